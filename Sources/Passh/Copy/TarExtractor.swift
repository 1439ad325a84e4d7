public import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Unpacks one tar stream, fed in pieces, under a root directory it never leaves.
///
/// Made for gathering files from hosts that may be hostile: whatever the stream says, nothing is
/// created, changed or read outside `root`.
///
/// - Formats: POSIX ustar (with `prefix`), GNU tar (long names and link names, `L`/`K`; base-256
///   numbers), pax extended headers (`x`: `path`, `linkpath`, `size`, `mtime` with fractions);
///   global pax headers (`g`) are read and ignored. The archive ends at two zero blocks (what follows
///   is ignored) or at the end of the stream after a complete member.
/// - Members: regular files (`0`, NUL, `7`), directories (`5`, and GNU's `D`), symbolic links (`2`, the target
///   written verbatim and never followed by the extractor) and hard links (`1`, only to a regular
///   file this stream extracted before; any other target is a ``Failure``). Devices, FIFOs and any
///   other type, and sparse files (GNU `S`, pax `GNU.sparse.*`) are skipped (counted in
///   ``Totals/skipped``, described in ``warnings``), never created.
/// - Names: leading `/`s are removed (as GNU tar does), so an absolute name lands under the root;
///   a name with a `..` component is a ``Failure``. Every name is resolved one component at a time
///   from the root's descriptor, each directory opened with `O_DIRECTORY|O_NOFOLLOW`: a symbolic link
///   (made by the stream or already there) in the middle of a name is a ``Failure``, never followed.
///   A member replaces an existing file or symbolic link of its name (the link is removed, never
///   written through: files are created with `O_CREAT|O_EXCL|O_NOFOLLOW`); an existing directory is
///   kept for a directory member and is a ``Failure`` for any other.
/// - Modes: the member's permission bits (`0o777`) are applied exactly (the umask does not apply);
///   setuid, setgid and sticky bits are dropped. Ownership is never changed. Modification times are
///   applied (to symbolic links too); directories get their mode and time in ``finish()``, after
///   everything inside them is written.
/// - Directories passh creates on its own: the root and its missing parents with mode 0700;
///   parents a member needs but the stream does not list with 0755 (less the umask).
/// - After a ``Failure``, the extractor stays failed; a partly written file is left in place.
///
/// Memory stays constant whatever the size of the members: file data is written as it arrives,
/// through one fixed buffer. Only an extended header (at most 1 MiB), the device and inode of each
/// regular file written (for hard links, 16 bytes each) and the path of each directory member
/// (awaiting its metadata) are kept.
public struct TarExtractor: ~Copyable {
    /// What was extracted.
    public struct Totals: Sendable, Hashable {
        /// Regular files written, and their bytes.
        public var files: Int
        public var bytes: Int64
        /// Directory members (not the root, not parents created on the way).
        public var directories: Int
        public var symbolicLinks: Int
        public var hardLinks: Int
        /// Members of other types (devices, FIFOs, unknown), not created.
        public var skipped: Int

        public init(
            files: Int = 0, bytes: Int64 = 0, directories: Int = 0, symbolicLinks: Int = 0,
            hardLinks: Int = 0, skipped: Int = 0
        ) {
            self.files = files
            self.bytes = bytes
            self.directories = directories
            self.symbolicLinks = symbolicLinks
            self.hardLinks = hardLinks
            self.skipped = skipped
        }
    }

    /// Why the stream could not be extracted: one line, naming the member (or the header's offset).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// The largest extended header (GNU long name, pax header) accepted.
    static let maximumExtendedHeader: Int64 = 1 << 20
    private static let writeBufferSize = 256 << 10
    private static let maximumWarnings = 20

    private enum Phase {
        case header
        /// Data of the current member: `remaining` bytes, then `padding` bytes up to a block boundary.
        case data
        /// After the end-of-archive marker: the rest is ignored.
        case end
        case finished
    }

    /// Where the current member's data goes.
    private enum Sink {
        case skip
        case file(Int32)
        case extendedHeader(typeflag: UInt8)
    }

    /// The current member (for completing it and naming it in messages).
    private struct Member {
        var name: [UInt8] = []
        var components: [[UInt8]] = []
        var mode: mode_t = 0
        var size: Int64 = 0
        var mtime = timespec()
    }

    /// A file's identity.
    private struct FileID: Hashable {
        var device: UInt64
        var inode: UInt64
        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    private struct DeferredDirectory {
        /// The normalized path, components joined with '/' (one allocation per directory).
        var path: [UInt8]
        var depth: Int
        var mode: mode_t
        var mtime: timespec
    }

    private let rootFD: Int32
    private let root: FilePath
    private var phase = Phase.header
    private var failure: Failure?
    /// Bytes of the stream consumed so far.
    private var offset: Int64 = 0

    private let headerBlock: UnsafeMutableRawBufferPointer
    private var headerFill = 0
    private var zeroBlocks = 0

    private var sink = Sink.skip
    private var member = Member()
    private var remaining: Int64 = 0
    private var padding = 0
    private var extendedHeader: [UInt8] = []
    private var pending = TarPendingAttributes()

    private let writeBuffer: UnsafeMutableRawBufferPointer
    private var writeFill = 0

    /// The parent directory of the last member (its components and descriptor), reused by the next
    /// member in the same directory. Never the root's descriptor.
    private var cachedParent: (components: ArraySlice<[UInt8]>, fd: Int32)?

    private var totals = Totals()
    /// The regular files written (device and inode): the only targets hard links may have.
    private var extractedFiles: Set<FileID> = []
    private var directories: [DeferredDirectory] = []
    private var directoryIndex: [[UInt8]: Int] = [:]
    /// Descriptions of skipped members (the first few).
    public private(set) var warnings: [String] = []

    /// An extractor writing under `root`, which is created (with its missing parents, mode 0700)
    /// when missing and must otherwise be a directory, not a symbolic link.
    public init(root: FilePath) throws(Failure) {
        try Self.makeDirectories(root)
        let fd = open(root.string, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let error = errno
            var info = stat()
            if error == ELOOP || error == ENOTDIR, lstat(root.string, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
                throw Failure("cannot extract into \(root.string): a symbolic link")
            }
            throw Failure("cannot extract into \(root.string): \(Errno(rawValue: error))")
        }
        rootFD = fd
        self.root = root
        headerBlock = .allocate(byteCount: TarHeader.blockSize, alignment: 16)
        writeBuffer = .allocate(byteCount: Self.writeBufferSize, alignment: 16)
    }

    deinit {
        if case .file(let fd) = sink { close(fd) }
        if let cachedParent { close(cachedParent.fd) }
        close(rootFD)
        headerBlock.deallocate()
        writeBuffer.deallocate()
    }

    /// Feeds the next bytes of the stream (any split; a header may straddle calls).
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        if let failure { throw failure }
        if case .finished = phase { throw fail(Failure("tar stream fed after it finished")) }
        do throws(Failure) {
            try consumeBytes(bytes)
        } catch {
            throw fail(error)
        }
    }

    /// Feeds the next bytes of the stream, as ``consume(_:)-(UnsafeRawBufferPointer)`` does.
    public mutating func consume(_ bytes: [UInt8]) throws(Failure) {
        var failure: Failure?
        bytes.withUnsafeBytes { buffer in
            do throws(Failure) { try consume(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// The stream ended: fails if it ended inside a member (truncated archive) or held no byte at
    /// all; applies directory mtimes/modes deferred until now. Called again, returns the same totals.
    public mutating func finish() throws(Failure) -> Totals {
        if let failure { throw failure }
        do throws(Failure) {
            switch phase {
            case .finished: return totals
            case .end: break
            case .header:
                if offset == 0 {
                    // As GNU tar: a tar program writes at least the end-of-archive blocks.
                    throw Failure("tar stream is empty: not a tar archive")
                }
                if headerFill > 0 {
                    throw Failure("tar archive truncated: it ends inside a header (\(headerFill) of 512 bytes)")
                }
                if pending.seen {
                    throw Failure("tar archive truncated: it ends after an extended header, before its member")
                }
            case .data:
                if remaining > 0 {
                    let what: String
                    switch sink {
                    case .extendedHeader: what = "an extended header"
                    default: what = "member '\(TarPath.display(member.name))'"
                    }
                    throw Failure(
                        "tar archive truncated: \(what) ends after \(member.size - remaining) of \(member.size) bytes")
                }
            // Only the padding of the last member is missing: it is complete.
            }
            try applyDirectories()
        } catch {
            throw fail(error)
        }
        phase = .finished
        if let cachedParent { close(cachedParent.fd) }
        cachedParent = nil
        return totals
    }

    /// Records `error` as the extractor's state, closing the file being written.
    private mutating func fail(_ error: Failure) -> Failure {
        if case .file(let fd) = sink { close(fd) }
        sink = .skip
        failure = error
        return error
    }

    // MARK: - The stream

    private mutating func consumeBytes(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        var index = 0
        while index < bytes.count {
            switch phase {
            case .end, .finished:
                offset += Int64(bytes.count - index)
                return
            case .header:
                let count = min(TarHeader.blockSize - headerFill, bytes.count - index)
                (headerBlock.baseAddress! + headerFill).copyMemory(from: bytes.baseAddress! + index, byteCount: count)
                headerFill += count
                index += count
                offset += Int64(count)
                if headerFill == TarHeader.blockSize {
                    headerFill = 0
                    try processHeader()
                }
            case .data:
                if remaining > 0 {
                    let count = Int(min(Int64(bytes.count - index), remaining))
                    try deliver(UnsafeRawBufferPointer(start: bytes.baseAddress! + index, count: count))
                    remaining -= Int64(count)
                    index += count
                    offset += Int64(count)
                    if remaining == 0 { try completeMember() }
                } else {
                    let count = min(padding, bytes.count - index)
                    padding -= count
                    index += count
                    offset += Int64(count)
                }
                if remaining == 0, padding == 0 { phase = .header }
            }
        }
    }

    private mutating func processHeader() throws(Failure) {
        let block = UnsafeRawBufferPointer(headerBlock)
        if TarHeader.isZeroBlock(block) {
            zeroBlocks += 1
            if zeroBlocks == 2 { phase = .end }
            return
        }
        // A lone zero block followed by a header is tolerated (as GNU tar does).
        zeroBlocks = 0
        let header = try TarHeader(block, offset: offset - Int64(TarHeader.blockSize))
        switch header.typeflag {
        case UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"), UInt8(ascii: "X"), UInt8(ascii: "g"):
            guard header.size <= Self.maximumExtendedHeader else {
                throw Failure(
                    "tar header at byte \(offset - 512): extended header of \(header.size) bytes is too large")
            }
            extendedHeader.removeAll(keepingCapacity: true)
            member = Member(name: header.name, size: header.size)
            try start(.extendedHeader(typeflag: header.typeflag), size: header.size)
        default:
            try startMember(header)
        }
    }

    /// Enters the data phase for `size` bytes into `sink` (completing at once when there are none).
    private mutating func start(_ sink: Sink, size: Int64) throws(Failure) {
        self.sink = sink
        remaining = size
        padding = Int((TarHeader.blockSize - Int(size % Int64(TarHeader.blockSize))) % TarHeader.blockSize)
        phase = .data
        if size == 0 { try completeMember() }
        if remaining == 0, padding == 0 { phase = .header }
    }

    private mutating func deliver(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        switch sink {
        case .skip: break
        case .extendedHeader: extendedHeader.append(contentsOf: bytes)
        case .file(let fd):
            var rest = bytes
            while !rest.isEmpty {
                if writeFill == 0, rest.count >= writeBuffer.count {
                    try write(fd, rest)
                    return
                }
                let count = min(writeBuffer.count - writeFill, rest.count)
                (writeBuffer.baseAddress! + writeFill).copyMemory(from: rest.baseAddress!, byteCount: count)
                writeFill += count
                rest = UnsafeRawBufferPointer(rebasing: rest[count...])
                if writeFill == writeBuffer.count { try flush(fd) }
            }
        }
    }

    private mutating func flush(_ fd: Int32) throws(Failure) {
        guard writeFill > 0 else { return }
        try write(fd, UnsafeRawBufferPointer(rebasing: writeBuffer[..<writeFill]))
        writeFill = 0
    }

    private func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Failure) {
        do {
            _ = try FileDescriptor(rawValue: fd).writeAll(bytes)
        } catch {
            throw memberFailure("cannot write: \(error)")
        }
    }

    /// The current member's data is complete (all of it, not necessarily its padding).
    private mutating func completeMember() throws(Failure) {
        switch sink {
        case .skip: break
        case .extendedHeader(let typeflag):
            let data = extendedHeader
            switch typeflag {
            case UInt8(ascii: "L"):
                pending.path = Array(data.prefix { $0 != 0 })
                pending.seen = true
            case UInt8(ascii: "K"):
                pending.linkPath = Array(data.prefix { $0 != 0 })
                pending.seen = true
            case UInt8(ascii: "x"), UInt8(ascii: "X"):
                try pending.applyPax(data, member: TarPath.display(member.name))
            default: break  // 'g': global attributes are not applied
            }
        case .file(let fd):
            try flush(fd)
            sink = .skip
            defer { close(fd) }
            guard fchmod(fd, member.mode) == 0 else { throw memberFailure("cannot set mode", errno) }
            let times = [timespec(tv_sec: 0, tv_nsec: Self.utimeNow), member.mtime]
            guard futimens(fd, times) == 0 else { throw memberFailure("cannot set time", errno) }
            totals.files += 1
            totals.bytes += member.size
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw memberFailure("cannot inspect", errno) }
            extractedFiles.insert(FileID(info))
        }
        sink = .skip
    }

    // MARK: - Members

    private mutating func startMember(_ header: TarHeader) throws(Failure) {
        let attributes = pending
        pending = TarPendingAttributes()
        var name = attributes.path ?? header.name
        let link = attributes.linkPath ?? header.linkName
        member = Member(name: name, size: attributes.size ?? header.size)
        member.mode = mode_t(truncatingIfNeeded: header.mode) & 0o777
        member.mtime =
            attributes.mtime.map { timespec(tv_sec: Int($0.seconds), tv_nsec: $0.nanoseconds) }
            ?? timespec(tv_sec: Int(header.mtime), tv_nsec: 0)

        var typeflag = header.typeflag
        // A sparse file in pax form would come out as its map and pieces under a made-up name.
        if attributes.sparse { typeflag = UInt8(ascii: "S") }
        // The old convention: a regular file whose name ends in '/' is a directory.
        if typeflag == UInt8(ascii: "0") || typeflag == 0, name.last == UInt8(ascii: "/") {
            typeflag = UInt8(ascii: "5")
        }
        while name.count > 1, name.last == UInt8(ascii: "/") { name.removeLast() }
        do throws(TarPath.Problem) {
            member.components = try TarPath.components(name)
        } catch {
            switch error {
            case .parentComponent: throw memberFailure("a '..' component would leave the destination")
            case .nulByte: throw memberFailure("a NUL byte in the name")
            }
        }

        switch typeflag {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
            try start(.file(try createFile()), size: member.size)
        case UInt8(ascii: "5"), UInt8(ascii: "D"):  // 'D': GNU's directory with a listing as data
            try makeDirectoryMember()
            try start(.skip, size: member.size)
        case UInt8(ascii: "2"):
            try makeSymbolicLink(target: link)
            try start(.skip, size: 0)
        case UInt8(ascii: "1"):
            try makeHardLink(target: link)
            try start(.skip, size: 0)
        default:
            let kind: String
            switch typeflag {
            case UInt8(ascii: "3"): kind = "a character device"
            case UInt8(ascii: "4"): kind = "a block device"
            case UInt8(ascii: "6"): kind = "a FIFO"
            case UInt8(ascii: "S"): kind = "a sparse file"
            default: kind = "of unknown type '\(TarPath.display([typeflag]))'"
            }
            totals.skipped += 1
            if warnings.count < Self.maximumWarnings {
                warnings.append("tar member '\(TarPath.display(member.name))': skipped, \(kind)")
            }
            let carriesData = ![UInt8(ascii: "3"), UInt8(ascii: "4"), UInt8(ascii: "6")].contains(typeflag)
            try start(.skip, size: carriesData ? member.size : 0)
        }
    }

    private mutating func createFile() throws(Failure) -> Int32 {
        guard let leaf = member.components.last else { throw memberFailure("not a file name") }
        let parent = try openParent()
        let create = {
            leaf.withCString { openat(parent, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        }
        var fd = create()
        if fd < 0, errno == EEXIST {
            // Replaced, never written through: the old file (or link) goes, a new one is made.
            try removeExisting(leaf, in: parent)
            fd = create()
        }
        guard fd >= 0 else { throw memberFailure("cannot create", errno) }
        return fd
    }

    private mutating func makeDirectoryMember() throws(Failure) {
        // The root itself ("./"): its mode and time stay passh's.
        guard let leaf = member.components.last else { return }
        let parent = try openParent()
        if leaf.withCString({ mkdirat(parent, $0, 0o700) }) != 0 {
            guard errno == EEXIST else { throw memberFailure("cannot create directory", errno) }
            let existing = leaf.withCString { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if existing >= 0 {
                // Writable for what follows; the member's mode comes in finish().
                _ = fchmod(existing, 0o700)
                close(existing)
            } else {
                try removeExisting(leaf, in: parent)
                guard leaf.withCString({ mkdirat(parent, $0, 0o700) }) == 0 else {
                    throw memberFailure("cannot create directory", errno)
                }
            }
        }
        let path = Array(member.components.joined(separator: [UInt8(ascii: "/")]))
        let entry = DeferredDirectory(
            path: path, depth: member.components.count, mode: member.mode, mtime: member.mtime)
        if let index = directoryIndex[path] {
            directories[index] = entry
        } else {
            directoryIndex[path] = directories.count
            directories.append(entry)
            totals.directories += 1
        }
    }

    private mutating func makeSymbolicLink(target: [UInt8]) throws(Failure) {
        guard let leaf = member.components.last else { throw memberFailure("not a file name") }
        guard !target.isEmpty, !target.contains(0) else { throw memberFailure("invalid symbolic link target") }
        let parent = try openParent()
        let create = { target.withCString { target in leaf.withCString { symlinkat(target, parent, $0) } } }
        var made = create()
        if made != 0, errno == EEXIST {
            try removeExisting(leaf, in: parent)
            made = create()
        }
        guard made == 0 else { throw memberFailure("cannot create symbolic link", errno) }
        let times = [timespec(tv_sec: 0, tv_nsec: Self.utimeNow), member.mtime]
        guard leaf.withCString({ utimensat(parent, $0, times, AT_SYMLINK_NOFOLLOW) }) == 0 else {
            throw memberFailure("cannot set time", errno)
        }
        totals.symbolicLinks += 1
    }

    private mutating func makeHardLink(target: [UInt8]) throws(Failure) {
        guard let leaf = member.components.last else { throw memberFailure("not a file name") }
        let targetComponents: [[UInt8]]
        do throws(TarPath.Problem) {
            targetComponents = try TarPath.components(target)
        } catch {
            throw memberFailure("hard link to '\(TarPath.display(target))', outside the destination")
        }
        let refused = memberFailure("hard link to '\(TarPath.display(target))', not a file extracted before it")
        guard let targetLeaf = targetComponents.last else { throw refused }
        if targetComponents == member.components { return }
        // The target's directory is opened the safe way (and never created); the target must be a
        // file this extractor wrote (its device and inode); linkat without AT_SYMLINK_FOLLOW never
        // follows a symbolic link.
        guard let targetParent = try? openDirectory(targetComponents.dropLast(), create: false) else { throw refused }
        defer { if targetParent != rootFD { close(targetParent) } }
        var info = stat()
        guard targetLeaf.withCString({ fstatat(targetParent, $0, &info, AT_SYMLINK_NOFOLLOW) }) == 0,
            info.st_mode & S_IFMT == S_IFREG, extractedFiles.contains(FileID(info))
        else { throw refused }
        let parent = try openParent()
        let create = {
            targetLeaf.withCString { source in leaf.withCString { linkat(targetParent, source, parent, $0, 0) } }
        }
        var linked = create()
        if linked != 0, errno == EEXIST {
            try removeExisting(leaf, in: parent)
            linked = create()
        }
        guard linked == 0 else { throw memberFailure("cannot create hard link", errno) }
        totals.hardLinks += 1
    }

    // MARK: - Paths

    /// Removes `leaf` in `parent` if it exists and is not a directory (a directory is a Failure).
    private func removeExisting(_ leaf: [UInt8], in parent: Int32) throws(Failure) {
        if leaf.withCString({ unlinkat(parent, $0, 0) }) == 0 { return }
        let error = errno
        if error == ENOENT { return }
        if error == EISDIR || error == EPERM, (try? fileType(leaf, in: parent)) == S_IFDIR {
            throw memberFailure("a directory is in the way")
        }
        throw memberFailure("cannot replace the existing file", error)
    }

    /// The type bits (`S_IFMT`) of `leaf` in `parent`, not following a symbolic link.
    private func fileType(_ leaf: [UInt8], in parent: Int32) throws(Failure) -> mode_t {
        var info = stat()
        guard leaf.withCString({ fstatat(parent, $0, &info, AT_SYMLINK_NOFOLLOW) }) == 0 else {
            throw memberFailure("cannot inspect", errno)
        }
        return info.st_mode & S_IFMT
    }

    /// The directory the current member goes in (not to be closed: it is cached or the root).
    private mutating func openParent() throws(Failure) -> Int32 {
        let components = member.components.dropLast()
        if components.isEmpty { return rootFD }
        if let cachedParent, cachedParent.components == components { return cachedParent.fd }
        let fd = try openDirectory(components)
        if let cachedParent { close(cachedParent.fd) }
        cachedParent = (components, fd)
        return fd
    }

    /// Opens `components` under the root one at a time, never following a symbolic link, creating
    /// missing directories (0755 less the umask) if `create`. Returns the root's descriptor for no
    /// components, else a new descriptor the caller closes.
    private func openDirectory(_ components: ArraySlice<[UInt8]>, create: Bool = true) throws(Failure) -> Int32 {
        var current = rootFD
        for component in components {
            var fd = component.withCString { openat(current, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if fd < 0, errno == ENOENT, create {
                if component.withCString({ mkdirat(current, $0, 0o755) }) != 0, errno != EEXIST {
                    let error = errno
                    if current != rootFD { close(current) }
                    throw memberFailure("cannot create directory '\(TarPath.display(component))'", error)
                }
                fd = component.withCString { openat(current, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            }
            guard fd >= 0 else {
                let error = errno
                // With O_DIRECTORY, Linux says ENOTDIR for a symbolic link too: look.
                let isLink = (error == ELOOP || error == ENOTDIR) && (try? fileType(component, in: current)) == S_IFLNK
                if current != rootFD { close(current) }
                let name = TarPath.display(component)
                if isLink { throw memberFailure("'\(name)' is a symbolic link, never followed") }
                if error == ENOTDIR { throw memberFailure("'\(name)' is not a directory") }
                throw memberFailure("cannot open directory '\(name)'", error)
            }
            if current != rootFD { close(current) }
            current = fd
        }
        return current
    }

    /// Applies the deferred modes and times of directory members, deepest first (a directory made
    /// read-only or unsearchable must not stop the ones inside it).
    private mutating func applyDirectories() throws(Failure) {
        let order = directories.indices.sorted {
            let (a, b) = (directories[$0].depth, directories[$1].depth)
            return a != b ? a > b : $0 < $1
        }
        if let cachedParent { close(cachedParent.fd) }
        cachedParent = nil
        for index in order {
            let directory = directories[index]
            let components = directory.path.split(separator: UInt8(ascii: "/")).map { Array($0) }
            member = Member(name: directory.path, components: components)
            let fd = try openDirectory(components[...], create: false)
            defer { close(fd) }
            guard fchmod(fd, directory.mode) == 0 else { throw memberFailure("cannot set mode", errno) }
            let times = [timespec(tv_sec: 0, tv_nsec: Self.utimeNow), directory.mtime]
            guard futimens(fd, times) == 0 else { throw memberFailure("cannot set time", errno) }
        }
        directories = []
        directoryIndex = [:]
    }

    /// `UTIME_NOW`, which Glibc's module does not import.
    private static let utimeNow = (1 << 30) - 1

    private func memberFailure(_ what: String, _ error: Int32? = nil) -> Failure {
        let reason = error.map { "\(what): \(Errno(rawValue: $0))" } ?? what
        return Failure("tar member '\(TarPath.display(member.name))': \(reason)")
    }

    // MARK: - The root

    /// `mkdir -p` with mode 0700 for the directories it creates.
    private static func makeDirectories(_ path: FilePath) throws(Failure) {
        var info = stat()
        if lstat(path.string, &info) == 0 { return }  // checked when opened
        var prefix = path.root.map { FilePath(root: $0) } ?? FilePath()
        for component in path.components {
            prefix.append(component)
            if mkdir(prefix.string, 0o700) != 0, errno != EEXIST {
                throw Failure("cannot create directory \(prefix.string): \(Errno(rawValue: errno))")
            }
        }
    }
}

extension [UInt8] {
    /// Calls `body` with the bytes as a NUL-terminated C string (the bytes hold no NUL).
    fileprivate func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (self + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}

/// The extractor owns its descriptors and buffers alone (it cannot be copied) and changes only
/// through `mutating` methods, so moving it to another task is safe.
extension TarExtractor: @unchecked Sendable {}
