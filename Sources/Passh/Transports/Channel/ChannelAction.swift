/// What a ``SessionChannel`` asks of its codec, in order.
enum ChannelAction {
    /// Send a message to the host.
    case send(ChannelMessage)
    /// Hand these chunks of output to the consumer.
    case deliver([OutputChunk])
    /// The session is over: this is how it ended. Nothing follows.
    case finish(Termination)
}
