/// What a session's command must get on its stdin, for a custom ``Transport``: the
/// ``SessionOptions/stdinPreamble`` (a sudo password), then the ``SessionOptions/stdinFile`` from
/// its start, then the end of input — in that order, in pieces as large as the transport can take.
///
/// ```swift
/// var stdin = try SessionStdin(options)     // a HostFailure when the stdin file cannot be opened
/// while let piece = stdin.next(atMost: window) { try await channel.write(piece) }
/// try await channel.sendEOF()
/// ```
///
/// Transports built in read it the same way; one that skipped the preamble would lose a sudo
/// password, and the command would wait for it.
public struct SessionStdin: Sendable {
    private var source: StdinSource

    /// The stdin `options` ask for; opens the stdin file, if there is one.
    ///
    /// - Throws: A ``HostFailure`` (``HostFailure/Kind/cannotStart``) when the stdin file cannot be
    ///   opened: report it as the host's ``Termination/failed(_:)``.
    public init(_ options: SessionOptions) throws(HostFailure) {
        var file: StdinFileDescriptor?
        if let path = options.stdinFile {
            do throws(StdinFileDescriptor.Failure) {
                file = try StdinFileDescriptor.open(path)
            } catch {
                throw error.failure
            }
        }
        source = StdinSource(preamble: options.stdinPreamble, file: file)
    }

    /// Whether there is no input at all: send the end of input at once.
    public var isEmpty: Bool { source.isEmpty }

    /// The next piece, of at most `count` bytes (more than 0); `nil` at the end of input (a read
    /// error ends the input too). The file is closed then.
    public mutating func next(atMost count: Int) -> [UInt8]? {
        guard !source.isFinished else { return nil }
        switch source.next(atMost: Swift.max(count, 1)) {
        case .data(let bytes): return bytes
        case .end: return nil
        }
    }

    /// Sends no more: the command stopped reading, or the session is over. Closes the file.
    public mutating func drop() {
        source.drop()
    }
}
