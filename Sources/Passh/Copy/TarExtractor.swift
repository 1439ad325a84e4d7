public import SystemPackage

// PLACEHOLDER until branch `tar` is merged: the agreed interface, no implementation.
public struct TarExtractor: ~Copyable {
    public struct Totals: Sendable, Hashable {
        public var files: Int
        public var bytes: Int64
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(root: FilePath) throws(Failure) {
        throw Failure(description: "unpacking is not available yet")
    }

    public mutating func consume(_ bytes: UnsafeRawBufferPointer) throws(Failure) {}

    public mutating func finish() throws(Failure) -> Totals { Totals(files: 0, bytes: 0) }
}
