/// What a transport's codec saw of a session channel, in the channel's terms (RFC 4254's, whatever
/// the wire): the input of a ``SessionChannel``.
enum ChannelEvent {
    /// The host opened the channel: what it lets passh send at first, and in one packet.
    case opened(window: Int, maximumPacket: Int)
    /// The host refused to open the channel.
    case openRefused(String)
    /// The host accepted the command (and the terminal asked for, if any).
    case execAccepted
    /// The host refused the command; the detail, if the codec has one.
    case execRefused(String?)
    /// The host let passh send this many more bytes.
    case windowAdjusted(Int)
    /// What the host lets passh send now, all told (for a codec that tracks the window itself).
    case windowIs(Int)
    /// Output bytes already in memory (a packet's payload).
    case output(OutputStreamKind, ArraySlice<UInt8>)
    /// Bytes of another extended-data type: they count against the window, and are not shown.
    case discarded(Int)
    /// The host's output ended (EOF).
    case outputEnded
    case exitStatus(Int32)
    /// The command was killed by the signal of this name (`TERM`).
    case exitSignal(String)
    /// Another request from the host: answered with a failure when it wants a reply.
    case request(wantsReply: Bool)
    /// The host closed the channel.
    case closed
    /// The connection is gone; the message says how (`connection to web1 lost: …`).
    case connectionLost(String)
    /// The host no longer takes stdin (the command ended, or closed it): stop sending it.
    case stdinRefused
    /// The session is asked to stop.
    case stop(StopLevel)
}
