/// Replaces the group references of pattern lists (`@web`, `@slurm:batch`) with the groups'
/// patterns, without recursion, counting the names as it goes.
enum GroupResolver {
    /// Whether `text` may name a group: one of its comma-separated items begins with `@`.
    static func mayNameGroups(_ text: String) -> Bool {
        text.hasPrefix("@") || text.contains(",@")
    }

    /// A group's patterns being read: its items (`nil` between two patterns), the next one, and
    /// the plain items read since the last group, to be joined into one pattern list.
    private struct Frame {
        var reference: GroupReference?
        var items: [Substring?]
        var next = 0
        var origin: String?
        var source: String
        var run: [Substring] = []

        /// Whether items remain to be read.
        var hasItemsLeft: Bool { items[next...].contains { $0 != nil } }
    }

    /// The plain pattern lists of `patterns`, groups replaced by their patterns, each with where
    /// it comes from; `patterns` without groups are kept as they are.
    ///
    /// - Parameters:
    ///   - patterns: Pattern lists and where they come from (`hosts:3`, or `nil`).
    ///   - groups: The group sources.
    ///   - limit: The most names the result may hold, repeats included.
    ///   - input: What `patterns` are, for the error when they hold too many names.
    /// - Throws: ``PasshError``: the errors of ``HostPattern/count(_:limit:)`` and of the groups,
    ///   prefixed with their origin; too many names.
    static func resolve(
        _ patterns: [(text: String, location: String?)], groups: HostGroups, limit: Int, input: String
    ) async throws(PasshError) -> [(text: String, location: String?)] {
        var result: [(text: String, location: String?)] = []
        var total = 0
        var counts: [String: Int] = [:]  // a group used many times is counted once
        var itemsOfGroups: [GroupReference: (items: [Substring?], origin: String?)] = [:]
        func emit(_ text: String, _ location: String?, isLast: @autoclosure () -> Bool) throws(PasshError) {
            do throws(PasshError) {
                if let count = counts[text] {
                    total += count
                } else {
                    let count = try HostPattern.count(text, limit: limit)
                    counts[text] = count
                    total += count
                }
            } catch {
                throw located(error, location)
            }
            if total > limit {
                throw PasshError(
                    .invalidPattern,
                    "\(input) expands to \(isLast() ? "" : "at least ")\(total) hosts, more than the limit of \(limit)")
            }
            result.append((text, location))
        }
        for (index, (text, location)) in patterns.enumerated() {
            let isLastPattern = index == patterns.count - 1
            guard mayNameGroups(text) else {
                try emit(text, location, isLast: isLastPattern)
                continue
            }
            var stack = [Frame(items: items(of: [text]), origin: location, source: groups.defaultSource)]
            var path: [GroupReference] = []  // the groups being read, outermost first
            var onPath: Set<GroupReference> = []
            func flush(_ frame: inout Frame, descending: Bool = false) throws(PasshError) {
                guard !frame.run.isEmpty else { return }
                let text = frame.run.joined(separator: ",")
                frame.run = []
                // The last names when no pattern, no item of this group and none of an enclosing
                // group is left (and no group is about to be read).
                let isLastHere = !descending && isLastPattern && !frame.hasItemsLeft
                try emit(text, frame.origin, isLast: isLastHere && !stack.contains(where: \.hasItemsLeft))
            }
            while var frame = stack.popLast() {
                var descended = false
                while frame.next < frame.items.count {
                    let item = frame.items[frame.next]
                    frame.next += 1
                    guard let item, item.first == "@" else {
                        if let item { frame.run.append(item) } else { try flush(&frame) }
                        continue
                    }
                    try flush(&frame, descending: true)
                    let reference: GroupReference
                    let groupItems: [Substring?]
                    let origin: String?
                    do throws(PasshError) {
                        reference = try GroupReference(parsing: item, defaultSource: frame.source)
                        if onPath.contains(reference), let start = path.firstIndex(of: reference) {
                            let cycle = (path[start...] + [reference]).map {
                                $0.written(defaultSource: groups.defaultSource)
                            }
                            throw PasshError(
                                .invalidGroup,
                                "group \(quoted(cycle[0])) includes itself: \(cycle.joined(separator: " -> "))")
                        }
                        if let known = itemsOfGroups[reference] {
                            (groupItems, origin) = known
                        } else {
                            let definition = try await groups.definition(of: reference)
                            (groupItems, origin) = (items(of: definition.patterns), definition.origin)
                            itemsOfGroups[reference] = (groupItems, origin)
                        }
                    } catch {
                        throw located(error, frame.origin)
                    }
                    path.append(reference)
                    onPath.insert(reference)
                    stack.append(frame)
                    stack.append(
                        Frame(
                            reference: reference, items: groupItems, origin: origin, source: reference.source))
                    descended = true
                    break
                }
                if descended { continue }
                try flush(&frame)
                if let reference = frame.reference {
                    path.removeLast()
                    onPath.remove(reference)
                }
            }
        }
        return result
    }

    /// The comma-separated items of pattern lists (a comma inside brackets belongs to the bracket),
    /// `nil` after each list.
    private static func items(of patterns: [String]) -> [Substring?] {
        var items: [Substring?] = []
        for text in patterns {
            var start = text.startIndex
            var depth = 0
            var index = text.startIndex
            while index < text.endIndex {
                switch text[index] {
                case "[": depth += 1
                case "]" where depth > 0: depth -= 1
                case "," where depth == 0:
                    items.append(text[start..<index])
                    start = text.index(after: index)
                default: break
                }
                index = text.index(after: index)
            }
            items.append(text[start...])
            items.append(nil)
        }
        return items
    }

    /// `error` with `location: ` in front.
    private static func located(_ error: PasshError, _ location: String?) -> PasshError {
        guard let location else { return error }
        return PasshError(error.code, "\(location): \(error.message)")
    }
}
