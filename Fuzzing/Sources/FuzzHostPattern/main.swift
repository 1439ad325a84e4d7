import CLibFuzzer
import Passh

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Host patterns: any text either expands to at most `limit` names, as many as `count` says, or is
// refused with the same one-line error by both; no name holds a comma; and folding the names
// then expanding the folded text gives back the same set of names.

/// Small enough for about a million executions a minute, large enough for several brackets.
private let limit = 2_000

func fuzzHostPattern(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let counted = Result { () throws(PasshError) in try HostPattern.count(text, limit: limit) }
    let names: [String]
    do {
        names = try HostPattern.expand(text, limit: limit)
    } catch {
        guard error.code == .invalidPattern, !error.message.contains("\n") else {
            fatalError("unexpected error for \(text.debugDescription): \(error)")
        }
        guard case .failure(let countError) = counted, countError == error else {
            fatalError("expand refused \(text.debugDescription) (\(error)) but count gave \(counted)")
        }
        return 0
    }
    guard case .success(let count) = counted, count == names.count, names.count <= limit else {
        fatalError("expand gave \(names.count) names for \(text.debugDescription) but count gave \(counted)")
    }
    guard !names.contains(where: { $0.contains(",") }) else {
        fatalError("a name with a comma from \(text.debugDescription)")
    }
    // Folding and expanding again gives the same set.
    guard !names.isEmpty else { return 0 }
    let folded = HostFolding.fold(names)
    let unique = Set(names)
    do {
        let again = try HostPattern.expand(folded, limit: limit)
        guard again.count == unique.count, Set(again) == unique else {
            fatalError("\(text.debugDescription) folded to \(folded.debugDescription), which expands to other names")
        }
    } catch {
        fatalError("\(text.debugDescription) folded to \(folded.debugDescription), which is refused: \(error)")
    }
    return 0
}

exit(passh_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzHostPattern))
