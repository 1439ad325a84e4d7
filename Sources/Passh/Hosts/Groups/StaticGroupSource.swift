/// A group source from a table in memory: for tests, and for programs that know their groups.
///
/// ```swift
/// let source = StaticGroupSource(["web": "web[1-3]", "all": "@web,db1"])
/// ```
public struct StaticGroupSource: GroupSource {
    private let table: [String: String]

    /// A source whose groups are the keys of `groups`, each holding the comma-separated patterns
    /// of its value.
    public init(_ groups: [String: String]) {
        self.table = groups
    }

    /// The group names, sorted.
    public func groupNames() -> [String] {
        table.keys.sorted()
    }

    /// The group's patterns; its origin is `group "NAME"`.
    public func group(named name: String) -> GroupDefinition? {
        table[name].map { GroupDefinition(patterns: [$0], origin: "group \(quoted(name))") }
    }
}
