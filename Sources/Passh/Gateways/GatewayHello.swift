/// The first line either side writes: the protocol and passh versions it speaks. The root's is
/// a request (`{"op":"hello",…}`), the gateway's an event (`{"event":"gateway",…}`).
struct GatewayHello: Sendable, Hashable {
    var protocolVersion: Int
    var passhVersion: String

    /// This passh's hello.
    static let current = GatewayHello(
        protocolVersion: GatewayProtocol.version, passhVersion: GatewayProtocol.passhVersion)

    /// The gateway's hello line, newline included.
    func eventLine() -> [UInt8] {
        var object = JSONObject()
        object.add("event", "gateway")
        object.add("protocol", protocolVersion)
        object.add("passh", passhVersion)
        return object.closed() + [0x0A]
    }

    /// Reads a gateway's hello line; `nil` when the line is not one.
    static func parseEvent(_ line: some Collection<UInt8>) -> GatewayHello? {
        var parser = JSONParser(bytes: Array(line))
        guard let parsed = try? parser.parseLine(), case .object(let members) = parsed,
            case .string(let event)? = members["event"],
            event == Array("gateway".utf8)
        else { return nil }
        return from(members)
    }

    static func from(_ members: [String: JSONValue]) -> GatewayHello? {
        guard case .number(let number)? = members["protocol"], let version = Int(number),
            case .string(let passh)? = members["passh"]
        else { return nil }
        return GatewayHello(protocolVersion: version, passhVersion: String(decoding: passh, as: UTF8.self))
    }

    /// Whether `other` can talk with this side: the same protocol and passh.
    func matches(_ other: GatewayHello) -> Bool { self == other }

    /// `passh 2.1.0, gateway protocol 2`.
    var description: String { "passh \(passhVersion), gateway protocol \(protocolVersion)" }
}
