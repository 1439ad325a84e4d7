import Synchronization

/// The group sources of a run, by name: what `@NAME` and `@SOURCE:NAME` in a host pattern mean.
///
/// ```swift
/// let groups = HostGroups(sources: [("local", StaticGroupSource(["web": "web[1-3]"]))])
/// var list = HostList(groups: groups)
/// try await list.add("@web,db1")      // web1 web2 web3 db1
/// ```
///
/// `@NAME` names a group of ``defaultSource``; a group's patterns may name other groups, of their
/// own source unless they say `@SOURCE:NAME`. The sources can be given at once or made on first
/// use (``init(defaultSource:loading:)``), so that a run without groups reads no configuration.
/// A group's definition is asked for once and kept.
public final class HostGroups: Sendable {
    /// The name of the source of `@NAME`.
    public let defaultSource: String
    private let load: @Sendable () throws(PasshError) -> [(name: String, source: any GroupSource)]
    private let state = Mutex<State>(State())

    private struct State {
        var sources: [(name: String, source: any GroupSource)]?
        var definitions: [GroupReference: GroupDefinition] = [:]
        var regroupSets: [(written: String, names: Set<String>)]?
    }

    /// Groups from `sources`, in order.
    ///
    /// - Parameters:
    ///   - defaultSource: The name of the source of `@NAME`.
    ///   - sources: The sources and their names; none by default, so that every `@NAME` is unknown.
    public convenience init(defaultSource: String = "local", sources: [(name: String, source: any GroupSource)] = []) {
        self.init(defaultSource: defaultSource) { sources }
    }

    /// Groups from sources made when a group is first needed (and made again after an error).
    ///
    /// - Parameters:
    ///   - defaultSource: The name of the source of `@NAME`.
    ///   - loading: Makes the sources and their names, e.g. by reading configuration files.
    public init(
        defaultSource: String = "local",
        loading: @escaping @Sendable () throws(PasshError) -> [(name: String, source: any GroupSource)]
    ) {
        self.defaultSource = defaultSource
        self.load = loading
    }

    /// The names of the sources, in order.
    ///
    /// - Throws: The errors of making the sources.
    public func sourceNames() throws(PasshError) -> [String] {
        try sources().map(\.name)
    }

    /// The groups of one source, or of every source that can list its groups, written as they
    /// are used: `@web` for the default source, `@slurm:batch` for another.
    ///
    /// - Parameter source: The source's name; `nil` for every source.
    /// - Throws: ``PasshError`` with code ``PasshError/Code/invalidGroup`` for an unknown source or
    ///   one that cannot list its groups; the errors of making the sources and of asking them.
    public func groups(of source: String? = nil) async throws(PasshError) -> [String] {
        var written: [String] = []
        for named in try sources() where source == nil ? named.source.canListGroups : named.name == source {
            for name in try await named.source.groupNames() {
                written.append(GroupReference(source: named.name, name: name).written(defaultSource: defaultSource))
            }
        }
        if let source, try !sources().contains(where: { $0.name == source }) {
            throw PasshError(.invalidGroup, "unknown group source \(quoted(source))")
        }
        return written
    }

    /// Folds host names like ``HostFolding/fold(_:)``, writing the hosts of a group of the default
    /// source as `@NAME` (clush's `-r`): the largest groups whose hosts are all among the names
    /// first, each taking hosts no group before it took; the other names folded after them.
    /// `web1 web2 web3 x9`, with `web: web[1-3]`, gives `@web,x9`.
    ///
    /// Groups that cannot be listed or resolved are not used, so this never fails;
    /// ``prepareRegroup()`` first makes them an error.
    public func regroup(_ names: [String]) async -> String {
        let candidates = await regroupSets()
        var remaining = Set(names)
        var taken: [String] = []
        for candidate in candidates
        where candidate.names.count <= remaining.count && candidate.names.isSubset(of: remaining) {
            taken.append(candidate.written)
            remaining.subtract(candidate.names)
        }
        if taken.isEmpty { return HostFolding.fold(names) }
        let rest = HostFolding.fold(names.filter { remaining.contains($0) })
        return (taken + (rest.isEmpty ? [] : [rest])).joined(separator: ",")
    }

    /// Reads what ``regroup(_:)`` needs — the default source's groups and their hosts — so that a
    /// broken groups file is an error before anything starts rather than host sets left unregrouped.
    ///
    /// - Throws: ``PasshError``: the errors of making the sources, listing the default source's
    ///   groups, or expanding one of them (an unknown group, a cycle, a bad pattern).
    public func prepareRegroup() async throws(PasshError) {
        _ = try await regroupSets(strict: true)
    }

    /// The default source's groups and their hosts, largest first (then in the source's order).
    private func regroupSets() async -> [(written: String, names: Set<String>)] {
        (try? await regroupSets(strict: false)) ?? []
    }

    /// `strict`: an error is thrown; else what cannot be read is left out.
    private func regroupSets(strict: Bool) async throws(PasshError) -> [(written: String, names: Set<String>)] {
        if let sets = state.withLock({ $0.regroupSets }) { return sets }
        var sets: [(written: String, names: Set<String>)] = []
        if let source = try sources().first(where: { $0.name == defaultSource })?.source {
            for name in try await source.groupNames() {
                let written = GroupReference(source: defaultSource, name: name).written(defaultSource: defaultSource)
                var list = HostList(groups: self)
                do throws(PasshError) {
                    try await list.add(written)
                } catch {
                    if strict { throw error }
                    continue
                }
                guard list.count > 0 else { continue }
                sets.append((written, Set(list.names)))
            }
        }
        let sorted = sets.enumerated()
            .sorted { ($0.element.names.count, $1.offset) > ($1.element.names.count, $0.offset) }
            .map(\.element)
        state.withLock { $0.regroupSets = sorted }
        return sorted
    }

    /// The sources, made on first use.
    private func sources() throws(PasshError) -> [(name: String, source: any GroupSource)] {
        if let sources = state.withLock({ $0.sources }) { return sources }
        let sources = try load()
        state.withLock { $0.sources = sources }
        return sources
    }

    /// The definition of a group, asked of its source once.
    ///
    /// - Throws: ``PasshError`` with code ``PasshError/Code/invalidGroup`` for an unknown source or
    ///   group; the source's errors.
    func definition(of reference: GroupReference) async throws(PasshError) -> GroupDefinition {
        if let known = state.withLock({ $0.definitions[reference] }) { return known }
        let written = reference.written(defaultSource: defaultSource)
        guard let source = try sources().first(where: { $0.name == reference.source })?.source else {
            if reference.source == defaultSource { throw PasshError(.invalidGroup, "unknown group \(quoted(written))") }
            throw PasshError(.invalidGroup, "unknown group source \(quoted(reference.source)) in \(quoted(written))")
        }
        guard let definition = try await source.group(named: reference.name) else {
            throw PasshError(.invalidGroup, "unknown group \(quoted(written))")
        }
        state.withLock { $0.definitions[reference] = definition }
        return definition
    }
}
