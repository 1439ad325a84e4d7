/// Where host groups come from: a groups file (``GroupFileSource``), a command that prints a
/// group's hosts (``CommandGroupSource``) or a fixed table (``StaticGroupSource``).
///
/// ``HostGroups`` gives each source a name; `@NAME` in a host pattern names a group of the
/// default source and `@SOURCE:NAME` one of another source.
public protocol GroupSource: Sendable {
    /// Whether ``groupNames()`` can list the groups; a source that can only look groups up says
    /// `false`. The default is `true`.
    var canListGroups: Bool { get }

    /// The names of the source's groups, in the source's order, without repeats.
    ///
    /// - Throws: ``PasshError`` when the groups cannot be listed.
    func groupNames() async throws(PasshError) -> [String]

    /// The patterns of a group, or `nil` when the source has no group of that name.
    ///
    /// The patterns may name other groups (`@web`), of the same source unless they name one
    /// (`@SOURCE:NAME`).
    ///
    /// - Throws: ``PasshError`` when the source cannot answer (a command that failed).
    func group(named name: String) async throws(PasshError) -> GroupDefinition?
}

extension GroupSource {
    /// A source can list its groups unless it says otherwise.
    public var canListGroups: Bool { true }
}
