/// The gateway protocol's constants: its version and the passh release that speaks it.
///
/// The root writes, on the gateway's stdin, JSON Lines of its own (``GatewayRequest``): a hello,
/// the setup, then at any time a file (a header line and its bytes), a host to run, a host to
/// stop. The gateway writes a hello line (``GatewayHello``) and then JSON Lines v2 events
/// (``JSONLinesSink``) on its stdout. An end of file on its stdin means the root is gone.
public enum GatewayProtocol {
    /// The protocol's version: a root and a gateway speak only the same one. 2: a host's run may
    /// ask for a terminal and carry its stdin's preamble (a sudo password), which a gateway of
    /// version 1 would have ignored without a word.
    public static let version = 2
    /// The passh release; a root and a gateway must run the same.
    public static let passhVersion = "2.1.0"
    /// The longest request line a gateway reads (a host's command): 1 MiB.
    static let maximumRequestLine = 1 << 20
}
