import CLibFuzzer
import Passh
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The tar extractor: any stream, fed in pieces of any size, either extracts or fails with one
// line, and nothing outside the root is ever created, changed or linked to. Each input is
// extracted into a fresh root inside a sandbox laid out as
//
//     sandbox/outside/secret        must stay as it is (mode, size, links, times, contents)
//     sandbox/jail/root/            the root, holding symbolic links out of it:
//         out -> ../../outside, abs -> sandbox/outside, up -> .., and a file f
//
// and afterwards sandbox/ must hold exactly outside/ and jail/, and jail/ exactly root/.

private let sandbox: String = {
    let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    let path = "\(base)/passh-fuzz-tar-\(getpid())"
    removeTree(path)
    check(mkdir(path, 0o700) == 0 && mkdir(path + "/outside", 0o755) == 0 && mkdir(path + "/jail", 0o755) == 0)
    let fd = open(path + "/outside/secret", O_WRONLY | O_CREAT | O_EXCL, 0o600)
    check(fd >= 0 && write(fd, "secret\n", 7) == 7 && close(fd) == 0)
    return path
}()

private let secretBefore = Snapshot(sandbox + "/outside/secret")
private let outsideBefore = Snapshot(sandbox + "/outside")

/// The sizes the stream is fed in, picked by the input's length (so that a crash reproduces).
private let pieceSizes = [Int.max, 512, 1, 7, 4099, 513]

func fuzzTarExtractor(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let root = sandbox + "/jail/root"
    check(mkdir(root, 0o700) == 0)
    check(symlink("../../outside", root + "/out") == 0)
    check(symlink(sandbox + "/outside", root + "/abs") == 0)
    check(symlink("..", root + "/up") == 0)
    let fd = open(root + "/f", O_WRONLY | O_CREAT | O_EXCL, 0o644)
    check(fd >= 0 && close(fd) == 0)

    let piece = pieceSizes[size % pieceSizes.count]
    var failure: TarExtractor.Failure?
    var warnings: [String] = []
    do throws(TarExtractor.Failure) {
        var extractor = try TarExtractor(root: FilePath(root))
        var offset = 0
        while offset < size {
            let count = min(piece, size - offset)
            try extractor.consume(UnsafeRawBufferPointer(start: data + offset, count: count))
            offset += count
        }
        _ = try extractor.finish()
        warnings = extractor.warnings
    } catch {
        failure = error
    }
    if let failure, failure.description.contains("\n") || failure.description.isEmpty {
        fatalError("a failure that is not one line: \(failure.description.debugDescription)")
    }
    if let warning = warnings.first(where: { $0.contains("\n") }) {
        fatalError("a warning that is not one line: \(warning.debugDescription)")
    }

    // Nothing outside the root.
    let sandboxEntries = entries(sandbox)
    let jailEntries = entries(sandbox + "/jail")
    let outsideEntries = entries(sandbox + "/outside")
    guard sandboxEntries == ["jail", "outside"], jailEntries == ["root"], outsideEntries == ["secret"] else {
        fatalError(
            "written outside the root: sandbox \(sandboxEntries), jail \(jailEntries), outside \(outsideEntries)")
    }
    guard Snapshot(sandbox + "/outside/secret") == secretBefore, Snapshot(sandbox + "/outside") == outsideBefore else {
        fatalError("changed outside the root: \(Snapshot(sandbox + "/outside/secret")) was \(secretBefore)")
    }
    removeTree(root)
    return 0
}

/// What an outside file must keep: type and mode, links, size, times (any write, chmod, link or
/// utimes changes one of them), and its first bytes.
private struct Snapshot: Equatable {
    var mode: mode_t
    var links: UInt
    var size: Int
    var modified: Int
    var changed: Int
    var head: [UInt8]

    init(_ path: String) {
        var info = stat()
        check(lstat(path, &info) == 0)
        mode = info.st_mode
        links = UInt(info.st_nlink)
        size = Int(info.st_size)
        modified = info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec
        changed = info.st_ctim.tv_sec * 1_000_000_000 + info.st_ctim.tv_nsec
        head = []
        if info.st_mode & S_IFMT == S_IFREG {
            let fd = open(path, O_RDONLY | O_NOFOLLOW)
            check(fd >= 0)
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = read(fd, &buffer, buffer.count)
            close(fd)
            head = Array(buffer.prefix(max(count, 0)))
        }
    }
}

/// The names in a directory, sorted, without `.` and `..`.
private func entries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { fatalError("cannot list \(path): \(errno)") }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// Removes a tree without following symbolic links, by descriptors and the names' bytes as they are
/// (a member's name need not be UTF-8); a directory is made searchable before it is read (a member
/// may have left one with mode 0).
private func removeTree(_ path: String) {
    removeEntry(AT_FDCWD, path)
    var info = stat()
    if lstat(path, &info) == 0 { fatalError("fuzz harness: cannot remove \(path)") }
}

private func removeEntry(_ directory: Int32, _ name: UnsafePointer<CChar>) {
    var info = stat()
    guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR {
        fchmodat(directory, name, 0o700, 0)
        let fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0, let stream = fdopendir(fd) {
            while let entry = readdir(stream) {
                withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                    let child = bytes.baseAddress!.assumingMemoryBound(to: CChar.self)
                    if strcmp(child, ".") != 0 && strcmp(child, "..") != 0 { removeEntry(fd, child) }
                }
            }
            closedir(stream)
        }
        unlinkat(directory, name, AT_REMOVEDIR)
    } else {
        unlinkat(directory, name, 0)
    }
}

private func check(_ condition: Bool, _ line: Int = #line) {
    if !condition { fatalError("fuzz harness: setup failed at line \(line): errno \(errno)") }
}

exit(passh_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzTarExtractor))
