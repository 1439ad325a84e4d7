public import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Unpacks one tar stream, fed in pieces, under a root directory it never leaves.
///
/// Made for gathering files from hosts that may be hostile: whatever the stream says, nothing is
/// created, changed or read outside `root`. It is a function of the bytes fed to it (and of what
/// is already under `root`): no other input, no process-wide state.
///
/// - Formats: POSIX ustar (with `prefix`), GNU tar (long names and link names, `L`/`K`; base-256
///   numbers), pax extended headers (`x`: `path`, `linkpath`, `size`, `mtime` with fractions);
///   global pax headers (`g`) are read and ignored. The archive ends at two zero blocks (what follows
///   is ignored) or at the end of the stream after a complete member; with `concatenated`, archives
///   may follow one another (their zero blocks are skipped, as `tar --ignore-zeros` does).
/// - Members: regular files (`0`, NUL, `7`), sparse files (``TarSparseMap``: GNU's `S`, pax
///   `GNU.sparse.*` 0.0, 0.1 and 1.0, which bsdtar writes), directories (`5`, and GNU's `D`),
///   symbolic links (`2`, the target written verbatim and never followed by the extractor) and hard
///   links (`1`, only to a regular file this stream extracted before; any other target is a
///   ``Failure``). Devices, FIFOs, any other type, and sparse files in a format GNU tar does not
///   write are skipped, never created: counted in ``Totals/skipped`` and named in
///   ``skippedSummary``.
/// - Names: leading `/`s are removed (as GNU tar does), so an absolute name lands under the root;
///   a name with a `..` component is a ``Failure``. Every name is resolved one component at a time
///   from the root's descriptor, each directory opened with `O_DIRECTORY|O_NOFOLLOW`: a symbolic link
///   (made by the stream or already there) in the middle of a name is a ``Failure``, never followed.
///   A member replaces an existing file or symbolic link of its name (the link is removed, never
///   written through: files are created with `O_CREAT|O_EXCL|O_NOFOLLOW`); an existing directory is
///   kept for a directory member and is a ``Failure`` for any other.
/// - Modes: the member's permission bits (`0o777`) are applied exactly (the umask does not apply);
///   setuid, setgid and sticky bits are dropped. Ownership is never changed. Modification times are
///   applied (to symbolic links too); a directory gets its mode and time once the stream has left
///   it (a member outside it comes, or the stream ends), after everything inside it is written, as
///   GNU tar does.
/// - The root: created with its missing parents (mode 0700) when missing; otherwise it must be a
///   private directory (``PrivateDirectory``: not a symbolic link, owned by this user, not
///   writable by group or others). Parents a member needs but the stream does not list are created
///   with 0755 (less the umask).
/// - After a ``Failure``, the extractor stays failed; a partly written file is left in place.
///
/// Memory stays bounded whatever the stream holds: file data is written as it arrives, through one
/// fixed buffer; beside it are kept one extended header (at most 1 MiB), one sparse map (at most
/// ``TarSparseMap/maximumEntries`` entries), the current member's name, the directories that
/// contain it (awaiting their metadata), and the device and inode of each regular file written (16
/// bytes each, for hard links) — never a name per member.
public struct TarExtractor: ~Copyable {
    /// What was extracted.
    public struct Totals: Sendable, Hashable {
        /// Regular files written (sparse ones too), and their bytes (a sparse file's size).
        public var files: Int
        public var bytes: Int64
        /// Directory members (not the root, not parents created on the way; a directory listed again
        /// while the stream is inside it counts once).
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
    /// Skipped members named in ``warnings`` (the rest are counted).
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
        /// The data stored in the archive (for a sparse file: its map, if there, and its pieces).
        var size: Int64 = 0
        var mtime = timespec()
    }

    /// A sparse file being written: its map (or the reader of the map at the start of its data),
    /// the entry being filled and what it still takes.
    private struct SparseWrite {
        var realSize: Int64
        var entries: [TarSparseMap.Entry] = []
        var reader: TarSparseMap.Reader?
        var index = -1
        var left: Int64 = 0
    }

    /// An old GNU sparse header waiting for its extension blocks.
    private struct SparseHeader {
        var header: TarHeader
        var attributes: TarPendingAttributes
        var entries: [TarSparseMap.Entry]
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

    /// A directory member the stream is still inside: its mode and time wait until it leaves.
    private struct OpenDirectory {
        /// Its number of components: it is `openPath.prefix(depth)`.
        var depth: Int
        var mode: mode_t
        var mtime: timespec
    }

    private let rootFD: Int32
    private let concatenated: Bool
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
    private var sparseHeader: SparseHeader?
    private var sparse: SparseWrite?

    private let writeBuffer: UnsafeMutableRawBufferPointer
    private var writeFill = 0
    /// Where in the file the write buffer's first byte goes.
    private var writeOffset: Int64 = 0

    /// The parent directory of the last member (its components and descriptor), reused by the next
    /// member in the same directory or below it. Never the root's descriptor.
    private var cachedParent: (components: ArraySlice<[UInt8]>, fd: Int32)?

    private var totals = Totals()
    /// The regular files written (device and inode): the only targets hard links may have.
    private var extractedFiles: Set<FileID> = []
    /// The directory members that contain the current member, shallowest first.
    private var openDirectories: [OpenDirectory] = []
    /// The components of the deepest open directory (the others' are its prefixes).
    private var openPath: [[UInt8]] = []
    /// The first skipped members: name and kind.
    private var skipped: [(name: [UInt8], kind: String)] = []

    /// An extractor writing under `root`, which is created (with its missing parents, mode 0700)
    /// when missing and must otherwise be a private directory: not a symbolic link, owned by this
    /// user, not writable by group or others.
    ///
    /// - Parameter concatenated: Read archives that follow one another (each ended by zero blocks)
    ///   as one, as `tar --ignore-zeros` does; otherwise what follows the first end is ignored.
    public init(root: FilePath, concatenated: Bool = false) throws(Failure) {
        let fd: FileDescriptor
        do throws(PasshError) {
            fd = try PrivateDirectory.open(root)
        } catch {
            throw Failure(error.message)
        }
        self.init(root: fd, concatenated: concatenated)
    }

    /// An extractor writing under the directory `root` (checked already), which it closes.
    init(root: FileDescriptor, concatenated: Bool) {
        rootFD = root.rawValue
        self.concatenated = concatenated
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

    /// Descriptions of the first skipped members (`tar member 'NAME': skipped, a FIFO`).
    public var warnings: [String] {
        skipped.map { "tar member '\(TarPath.display($0.name))': skipped, \($0.kind)" }
    }

    /// One line naming the skipped members (the first 10, then how many more), or `nil` when none
    /// was: `skipped 2 members: 'fifo' (a FIFO), 'null' (a character device)`.
    public var skippedSummary: String? {
        guard totals.skipped > 0 else { return nil }
        let named = skipped.prefix(10)
        var line =
            "skipped \(totals.skipped) member\(totals.skipped == 1 ? "" : "s"): "
            + named.map { "'\(TarPath.display($0.name))' (\($0.kind))" }.joined(separator: ", ")
        if totals.skipped > named.count { line += ", and \(totals.skipped - named.count) more" }
        return line
    }

    /// The directory members awaiting their mode and time (for tests: it stays the depth of the
    /// current member, whatever the number of members).
    var openDirectoryCount: Int { openDirectories.count }

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
    /// all; applies the directory modes and times still waiting. Called again, returns the same
    /// totals.
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
                if sparseHeader != nil {
                    throw Failure(
                        "tar archive truncated: it ends inside the sparse map of '\(TarPath.display(member.name))'")
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
            try leaveDirectories(toward: [])
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
        if sparseHeader != nil {
            try processSparseExtension(block)
            return
        }
        if TarHeader.isZeroBlock(block) {
            zeroBlocks += 1
            if zeroBlocks == 2 {
                if pending.seen {
                    throw Failure("tar header at byte \(offset - 512): the archive ends after an extended header")
                }
                if !concatenated { phase = .end }
            }
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
        case UInt8(ascii: "S"):
            guard let map = header.sparse else { preconditionFailure("an S header has its sparse map") }
            let attributes = pending
            pending = TarPendingAttributes()
            member = Member(name: header.name)
            if map.extended {
                sparseHeader = SparseHeader(header: header, attributes: attributes, entries: map.entries)
            } else {
                try startMember(header, attributes, oldSparse: map.entries)
            }
        default:
            let attributes = pending
            pending = TarPendingAttributes()
            try startMember(header, attributes)
        }
    }

    /// A block after an old GNU sparse header: more of its map.
    private mutating func processSparseExtension(_ block: UnsafeRawBufferPointer) throws(Failure) {
        guard var waiting = sparseHeader else { return }
        let (entries, extended) = try TarHeader.sparseExtension(block)
        waiting.entries += entries
        guard waiting.entries.count <= TarSparseMap.maximumEntries else {
            throw memberFailure("sparse map of more than \(TarSparseMap.maximumEntries) entries")
        }
        if extended {
            sparseHeader = waiting
        } else {
            sparseHeader = nil
            try startMember(waiting.header, waiting.attributes, oldSparse: waiting.entries)
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
            if sparse == nil {
                try append(fd, bytes)
            } else {
                try deliverSparse(fd, bytes)
            }
        }
    }

    /// A sparse file's data: its map first (format 1.0), then each piece at its place.
    ///
    /// The state is taken out of `sparse`, changed as a local and put back: in a method of a
    /// noncopyable type, Swift 6.3 compiles an assignment through an optional stored property
    /// (`sparse!.reader = nil`) as an initialization, and the old value is never released (the
    /// map reader's two arrays leaked, 128 bytes per pax 1.0 member, 4 MiB for a map of 131,072
    /// entries). Nothing in this type assigns through an optional.
    private mutating func deliverSparse(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Failure) {
        guard var write = sparse.take() else { preconditionFailure("sparse data without a sparse file") }
        defer { sparse = write }
        var rest = bytes
        while !rest.isEmpty {
            if write.reader != nil {
                let used: Int
                do throws(Failure) {
                    used = try write.reader!.consume(rest)
                } catch {
                    throw memberFailure(error.description)
                }
                rest = UnsafeRawBufferPointer(rebasing: rest[used...])
                guard let reader = write.reader, reader.isComplete, let entries = reader.entries else { continue }
                let map = TarSparseMap(realSize: write.realSize, entries: entries)
                if let problem = map.problem(storedSize: member.size - reader.consumed) {
                    throw memberFailure(problem)
                }
                write.entries = entries
                write.reader = nil
                continue
            }
            while write.left == 0 {
                write.index += 1
                guard write.index < write.entries.count else {
                    throw memberFailure("more data than its sparse map holds")  // the map was checked: never
                }
                try flush(fd)
                let entry = write.entries[write.index]
                writeOffset = entry.offset
                write.left = entry.size
            }
            let count = Int(min(Int64(rest.count), write.left))
            try append(fd, UnsafeRawBufferPointer(rebasing: rest[..<count]))
            write.left -= Int64(count)
            rest = UnsafeRawBufferPointer(rebasing: rest[count...])
        }
    }

    /// Writes `bytes` after what was written before, through the write buffer.
    private mutating func append(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Failure) {
        var rest = bytes
        while !rest.isEmpty {
            if writeFill == 0, rest.count >= writeBuffer.count {
                try write(fd, rest, at: writeOffset)
                writeOffset += Int64(rest.count)
                return
            }
            let count = min(writeBuffer.count - writeFill, rest.count)
            (writeBuffer.baseAddress! + writeFill).copyMemory(from: rest.baseAddress!, byteCount: count)
            writeFill += count
            rest = UnsafeRawBufferPointer(rebasing: rest[count...])
            if writeFill == writeBuffer.count { try flush(fd) }
        }
    }

    private mutating func flush(_ fd: Int32) throws(Failure) {
        guard writeFill > 0 else { return }
        try write(fd, UnsafeRawBufferPointer(rebasing: writeBuffer[..<writeFill]), at: writeOffset)
        writeOffset += Int64(writeFill)
        writeFill = 0
    }

    private func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(Failure) {
        do {
            _ = try FileDescriptor(rawValue: fd).writeAll(toAbsoluteOffset: offset, bytes)
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
            var size = member.size
            if let sparse {
                self.sparse = nil
                if sparse.reader != nil { throw memberFailure("its sparse map runs past its data") }
                guard ftruncate(fd, off_t(sparse.realSize)) == 0 else { throw memberFailure("cannot set size", errno) }
                size = sparse.realSize
            }
            guard fchmod(fd, member.mode) == 0 else { throw memberFailure("cannot set mode", errno) }
            let times = [timespec(tv_sec: 0, tv_nsec: Self.utimeNow), member.mtime]
            guard futimens(fd, times) == 0 else { throw memberFailure("cannot set time", errno) }
            totals.files += 1
            totals.bytes += size
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw memberFailure("cannot inspect", errno) }
            extractedFiles.insert(FileID(info))
        }
        sink = .skip
    }

    // MARK: - Members

    private mutating func startMember(
        _ header: TarHeader, _ attributes: TarPendingAttributes, oldSparse: [TarSparseMap.Entry]? = nil
    ) throws(Failure) {
        var typeflag = header.typeflag
        let isRegular = [UInt8(ascii: "0"), 0, UInt8(ascii: "7"), UInt8(ascii: "S")].contains(typeflag)
        let paxSparse = attributes.sparse && isRegular
        var name = (paxSparse ? attributes.sparseName : nil) ?? attributes.path ?? header.name
        let link = attributes.linkPath ?? header.linkName
        member = Member(name: name, size: attributes.size ?? header.size)
        member.mode = mode_t(truncatingIfNeeded: header.mode) & 0o777
        member.mtime =
            attributes.mtime.map { timespec(tv_sec: Int($0.seconds), tv_nsec: $0.nanoseconds) }
            ?? timespec(tv_sec: Int(header.mtime), tv_nsec: 0)

        // The old convention: a regular file whose name ends in '/' is a directory.
        if typeflag == UInt8(ascii: "0") || typeflag == 0, name.last == UInt8(ascii: "/"), !paxSparse {
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
        let isDirectory = typeflag == UInt8(ascii: "5") || typeflag == UInt8(ascii: "D")
        try leaveDirectories(toward: member.components, staying: isDirectory)

        if oldSparse != nil, paxSparse { throw memberFailure("two sparse maps (a GNU sparse header and pax records)") }
        if let oldSparse {
            let map = TarSparseMap(realSize: header.sparse?.realSize ?? 0, entries: oldSparse)
            try startSparseFile(SparseWrite(realSize: map.realSize, entries: map.entries), checking: map)
            return
        }
        if paxSparse {
            try startPaxSparseFile(attributes)
            return
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
            default: kind = "of unknown type '\(TarPath.display([typeflag]))'"
            }
            skip(kind)
            let carriesData = ![UInt8(ascii: "3"), UInt8(ascii: "4"), UInt8(ascii: "6")].contains(typeflag)
            try start(.skip, size: carriesData ? member.size : 0)
        }
    }

    /// Counts the current member as skipped (and names it, among the first few).
    private mutating func skip(_ kind: String) {
        totals.skipped += 1
        if skipped.count < Self.maximumWarnings { skipped.append((member.name, kind)) }
    }

    /// A sparse file described by pax records: its map is in them (0.0, 0.1) or at the start of
    /// its data (1.0). A format GNU tar does not write is skipped.
    private mutating func startPaxSparseFile(_ attributes: TarPendingAttributes) throws(Failure) {
        if let major = attributes.sparseMajor {
            let minor = attributes.sparseMinor ?? 0
            guard major == 1, minor == 0 else {
                skip("a sparse file of unknown format \(major).\(minor)")
                try start(.skip, size: member.size)
                return
            }
            guard let realSize = attributes.sparseRealSize else {
                throw memberFailure("sparse file without GNU.sparse.realsize")
            }
            try startSparseFile(SparseWrite(realSize: realSize, reader: TarSparseMap.Reader()), checking: nil)
            return
        }
        guard let realSize = attributes.sparseRealSize else {
            throw memberFailure("sparse file without GNU.sparse.size")
        }
        guard let entries = TarSparseMap.entries(attributes.sparseNumbers) else {
            throw memberFailure("sparse map with an offset but no size")
        }
        if let count = attributes.sparseEntryCount, count != entries.count {
            throw memberFailure("sparse map of \(entries.count) entries, GNU.sparse.numblocks says \(count)")
        }
        let map = TarSparseMap(realSize: realSize, entries: entries)
        try startSparseFile(SparseWrite(realSize: realSize, entries: entries), checking: map)
    }

    /// Creates the sparse file and reads its data, `map` checked first when it is known already.
    private mutating func startSparseFile(_ write: SparseWrite, checking map: TarSparseMap?) throws(Failure) {
        if let map, let problem = map.problem(storedSize: member.size) { throw memberFailure(problem) }
        let fd = try createFile()
        sparse = write
        try start(.file(fd), size: member.size)
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
        writeOffset = 0
        writeFill = 0
        return fd
    }

    private mutating func makeDirectoryMember() throws(Failure) {
        // The root itself ("./"): its mode and time stay passh's.
        guard let leaf = member.components.last else { return }
        if let open = openDirectories.last, open.depth == member.components.count {
            // Listed again while the stream is inside it: the last mode and time win.
            openDirectories[openDirectories.count - 1].mode = member.mode
            openDirectories[openDirectories.count - 1].mtime = member.mtime
            return
        }
        let parent = try openParent()
        if leaf.withCString({ mkdirat(parent, $0, 0o700) }) != 0 {
            guard errno == EEXIST else { throw memberFailure("cannot create directory", errno) }
            let existing = leaf.withCString { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if existing >= 0 {
                // Writable for what follows; the member's mode comes when the stream leaves it.
                _ = fchmod(existing, 0o700)
                close(existing)
            } else {
                try removeExisting(leaf, in: parent)
                guard leaf.withCString({ mkdirat(parent, $0, 0o700) }) == 0 else {
                    throw memberFailure("cannot create directory", errno)
                }
            }
        }
        openPath = member.components
        openDirectories.append(OpenDirectory(depth: member.components.count, mode: member.mode, mtime: member.mtime))
        totals.directories += 1
    }

    /// Applies the mode and time of the open directories that do not contain `components`,
    /// deepest first (a directory made read-only or unsearchable must not stop the ones inside it);
    /// with `staying`, a directory that is `components` itself stays open (it is listed again).
    private mutating func leaveDirectories(toward components: [[UInt8]], staying: Bool = false) throws(Failure) {
        guard !openDirectories.isEmpty else { return }
        var common = 0
        while common < min(openPath.count, components.count), openPath[common] == components[common] { common += 1 }
        while let top = openDirectories.last {
            let contains = top.depth <= common && top.depth < components.count
            let isSame = staying && top.depth == components.count && common == components.count
            if contains || isSame { break }
            openDirectories.removeLast()
            try apply(top)
        }
        openPath.removeLast(openPath.count - (openDirectories.last?.depth ?? 0))
    }

    /// Sets the mode and time of an open directory, `openPath.prefix(depth)`.
    private mutating func apply(_ directory: OpenDirectory) throws(Failure) {
        let components = openPath[..<directory.depth]
        let name = Array(components.joined(separator: [UInt8(ascii: "/")]))
        let fd = try openDirectory(components, create: false, for: name)
        defer { if fd != rootFD { close(fd) } }
        guard fchmod(fd, directory.mode) == 0 else { throw memberFailure("cannot set mode", errno, name: name) }
        let times = [timespec(tv_sec: 0, tv_nsec: Self.utimeNow), directory.mtime]
        guard futimens(fd, times) == 0 else { throw memberFailure("cannot set time", errno, name: name) }
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
        var fd: Int32
        if let cachedParent, components.starts(with: cachedParent.components) {
            // The same directory, or one below it: opened from there.
            if cachedParent.components.count == components.count { return cachedParent.fd }
            fd = try openDirectory(
                components.dropFirst(cachedParent.components.count), from: cachedParent.fd, create: true)
        } else {
            fd = try openDirectory(components)
        }
        if let cachedParent { close(cachedParent.fd) }
        cachedParent = (components, fd)
        return fd
    }

    /// Opens `components` under `base` (the root unless given) one at a time, never following a
    /// symbolic link, creating missing directories (0755 less the umask) if `create`. Returns
    /// `base` for no components, else a new descriptor the caller closes.
    private func openDirectory(
        _ components: ArraySlice<[UInt8]>, from base: Int32? = nil, create: Bool = true, for name: [UInt8]? = nil
    ) throws(Failure) -> Int32 {
        let base = base ?? rootFD
        var current = base
        for component in components {
            var fd = component.withCString { openat(current, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if fd < 0, errno == ENOENT, create {
                if component.withCString({ mkdirat(current, $0, 0o755) }) != 0, errno != EEXIST {
                    let error = errno
                    if current != base { close(current) }
                    throw memberFailure("cannot create directory '\(TarPath.display(component))'", error, name: name)
                }
                fd = component.withCString { openat(current, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            }
            guard fd >= 0 else {
                let error = errno
                // With O_DIRECTORY, Linux says ENOTDIR for a symbolic link too: look.
                let isLink = (error == ELOOP || error == ENOTDIR) && (try? fileType(component, in: current)) == S_IFLNK
                if current != base { close(current) }
                let display = TarPath.display(component)
                if isLink { throw memberFailure("'\(display)' is a symbolic link, never followed", name: name) }
                if error == ENOTDIR { throw memberFailure("'\(display)' is not a directory", name: name) }
                throw memberFailure("cannot open directory '\(display)'", error, name: name)
            }
            if current != base { close(current) }
            current = fd
        }
        return current
    }

    /// `UTIME_NOW`, which Glibc's module does not import.
    private static let utimeNow = (1 << 30) - 1

    /// A failure of the current member (or of the member `name`).
    private func memberFailure(_ what: String, _ error: Int32? = nil, name: [UInt8]? = nil) -> Failure {
        let reason = error.map { "\(what): \(Errno(rawValue: $0))" } ?? what
        return Failure("tar member '\(TarPath.display(name ?? member.name))': \(reason)")
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
