/// What a ``GroupSource`` says a group holds: host patterns and where they were found.
public struct GroupDefinition: Sendable, Hashable {
    /// Comma-separated host patterns (``HostPattern``), possibly naming other groups (`@db`): the
    /// group's hosts, in order.
    public var patterns: [String]
    /// Where the patterns come from, put in front of an error about them: `groups:3` (a file and
    /// line), `group source "slurm", group "batch"`; `nil` for nothing.
    public var origin: String?

    /// A definition.
    public init(patterns: [String], origin: String?) {
        self.patterns = patterns
        self.origin = origin
    }
}
