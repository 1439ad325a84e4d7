import Testing

@testable import Passh

/// The framing of OpenSSH's multiplexing protocol.
@Suite("Mux message framing")
struct MuxFramingTests {
    @Test func aMessageIsLengthTypeAndFields() throws {
        var message = MuxMessage(rawType: 0x1000_0002)
        message.u32(7)
        message.string(Array("ls".utf8))
        let framed = message.framed
        #expect(framed == [0, 0, 0, 14, 0x10, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 2, UInt8(ascii: "l"), UInt8(ascii: "s")])
        var received = framed + [0, 0]  // and the start of the next message
        var reader = try #require(try MuxMessage.take(from: &received))
        #expect(reader.type == 0x1000_0002)
        #expect(reader.u32() == 7)
        #expect(reader.text() == "ls")
        #expect(received == [0, 0])
        #expect(try MuxMessage.take(from: &received) == nil)
    }

    @Test func oversizedAndTypelessMessagesAreRefused() {
        var oversized: [UInt8] = [0, 0x10, 0, 0, 0, 0, 0, 1]
        #expect(throws: MuxClient.Failure.self) { try MuxMessage.take(from: &oversized) }
        var typeless: [UInt8] = [0, 0, 0, 2, 1, 2]
        #expect(throws: MuxClient.Failure.self) { try MuxMessage.take(from: &typeless) }
    }
}
