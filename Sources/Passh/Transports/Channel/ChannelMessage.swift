/// What a ``SessionChannel`` asks its codec to send to the host, in RFC 4254's terms.
enum ChannelMessage: Equatable {
    /// `CHANNEL_OPEN "session"`: the window and the largest packet passh accepts.
    case open(window: Int, maximumPacket: Int)
    /// `pty-req`: a terminal for the command (before the `exec`).
    case terminal
    /// `exec`, wanting a reply.
    case exec(String)
    /// Stdin bytes (`CHANNEL_DATA`).
    case data([UInt8])
    /// The end of stdin (`CHANNEL_EOF`).
    case eof
    /// `signal`, without a reply: `TERM` or `KILL`.
    case signal(String)
    /// `CHANNEL_WINDOW_ADJUST`: the host may send this many more bytes.
    case windowAdjust(Int)
    /// `CHANNEL_FAILURE`: the answer to a request passh does not take.
    case requestFailed
    /// `CHANNEL_CLOSE`.
    case close
}
