import PasshTestSupport
import SystemPackage
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Helpers

/// A scratch directory for one test: `root` (where the extractor writes, not created yet),
/// `outside` (a sentinel directory beside it that must stay untouched) and `source`.
private struct Scratch: ~Copyable {
    let path: String
    var root: String { path + "/root" }
    var outside: String { path + "/outside" }
    var source: String { path + "/source" }

    init(_ label: String) {
        path = temporaryPath("tar-\(label)")
        mkdir(path, 0o700)
        mkdir(outside, 0o700)
        mkdir(source, 0o755)
        writeText(outside + "/sentinel", "sentinel\n")
    }

    deinit { _ = shell("chmod -R u+rwx '\(path)' 2>/dev/null; rm -rf '\(path)'") }

    /// What is in `outside`, as `find` lists it (must stay `["sentinel"]` with "sentinel\n" in it),
    /// and the entries directly in the scratch directory.
    func expectOutsideUntouched(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(listing(outside) == ["./sentinel"], sourceLocation: sourceLocation)
        #expect(readText(outside + "/sentinel") == "sentinel\n", sourceLocation: sourceLocation)
        let top = Set(shell("cd '\(path)' && ls -A").text.split(separator: "\n").map(String.init))
        #expect(top.isSubset(of: ["root", "outside", "source", "a.tar"]), "\(top)", sourceLocation: sourceLocation)
    }
}

private func writeText(_ path: String, _ text: String) {
    try! writeFile(path, Array(text.utf8))
}

private func readBytes(_ path: String) throws -> [UInt8] {
    let fd = try FileDescriptor.open(FilePath(path), .readOnly)
    defer { try? fd.close() }
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
        if count == 0 { return result }
        result += buffer[..<count]
    }
}

/// `find` under `directory`: one sorted line per entry (path, type, mode, mtime to the nanosecond,
/// link target), the directory itself left out; contents are compared separately.
private func listing(_ directory: String, details: Bool = false) -> [String] {
    let format = details ? "%p %y %m %T@ %l\\n" : "%p\\n"
    return shell("cd '\(directory)' && find . -mindepth 1 -printf '\(format)' | LC_ALL=C sort").text
        .split(separator: "\n").map(String.init)
}

/// Feeds `bytes` to `extractor` in pieces of `piece` bytes (all at once for `nil`).
private func feed(_ extractor: inout TarExtractor, _ bytes: [UInt8], piece: Int? = nil) throws(TarExtractor.Failure) {
    var failure: TarExtractor.Failure?
    bytes.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
        let step = piece ?? max(bytes.count, 1)
        var start = 0
        while start < bytes.count {
            let end = min(start + step, bytes.count)
            do throws(TarExtractor.Failure) {
                try extractor.consume(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            } catch {
                failure = error
                return
            }
            start = end
        }
    }
    if let failure { throw failure }
}

/// Extracts `archive` into `root`, fed in pieces of `piece` bytes (all at once for `nil`).
@discardableResult
private func extract(_ archive: [UInt8], into root: String, piece: Int? = nil) throws(TarExtractor.Failure)
    -> TarExtractor.Totals
{
    var extractor = try TarExtractor(root: FilePath(root))
    try feed(&extractor, archive, piece: piece)
    return try extractor.finish()
}

/// The failure extracting `archive` produces (`nil` if it succeeds).
private func failure(_ archive: [UInt8], into root: String, piece: Int? = nil) -> String? {
    do {
        try extract(archive, into: root, piece: piece)
        return nil
    } catch {
        return error.description
    }
}

/// Hand-made tar archives, header by header.
private struct TarBuilder {
    var bytes: [UInt8] = []
    /// Where each header starts.
    var headers: [Int] = []

    /// Recomputes the checksum of the header at `offset` (after a change).
    mutating func fixChecksum(at offset: Int) {
        for index in 148..<156 { bytes[offset + index] = 0x20 }
        let sum = bytes[offset..<(offset + 512)].reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        let field = Array((String(repeating: "0", count: 6 - digits.count) + digits).utf8) + [0, 0x20]
        bytes.replaceSubrange((offset + 148)..<(offset + 156), with: field)
    }

    /// A ustar header; `size` defaults to the data's size; `corrupt` spoils the checksum;
    /// `rawSize` replaces the size field's 12 bytes.
    mutating func member(
        _ name: String, type: Character = "0", data: [UInt8] = [], mode: Int = 0o644, mtime: Int = 1_600_000_000,
        link: String = "", prefix: String = "", size: Int? = nil, rawSize: [UInt8]? = nil, rawMtime: [UInt8]? = nil,
        corrupt: Bool = false, writeData: Bool = true, magic: Bool = true
    ) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: [UInt8], at offset: Int, _ width: Int) {
            precondition(text.count <= width, "field too long")
            header.replaceSubrange(offset..<(offset + text.count), with: text)
        }
        func octal(_ value: Int, at offset: Int, _ width: Int) {
            let digits = String(value, radix: 8)
            put(Array((String(repeating: "0", count: width - 1 - digits.count) + digits).utf8), at: offset, width)
        }
        put(Array(name.utf8), at: 0, 100)
        octal(mode, at: 100, 8)
        octal(0, at: 108, 8)
        octal(0, at: 116, 8)
        if let rawSize { put(rawSize, at: 124, 12) } else { octal(size ?? data.count, at: 124, 12) }
        if let rawMtime { put(rawMtime, at: 136, 12) } else { octal(mtime, at: 136, 12) }
        header[156] = type.asciiValue!
        put(Array(link.utf8), at: 157, 100)
        if magic { put(Array("ustar\u{0}00".utf8), at: 257, 8) }
        put(Array(prefix.utf8), at: 345, 155)
        put(Array(repeating: 0x20, count: 8), at: 148, 8)
        var sum = header.reduce(0) { $0 + Int($1) }
        if corrupt { sum += 1 }
        let digits = String(sum, radix: 8)
        put(Array((String(repeating: "0", count: 6 - digits.count) + digits).utf8) + [0, 0x20], at: 148, 8)
        headers.append(bytes.count)
        bytes += header
        if writeData {
            bytes += data
            bytes += [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
        }
    }

    /// A pax extended header (`x`) with `records` for the next member.
    mutating func pax(_ records: [(String, String)]) {
        var data: [UInt8] = []
        for (key, value) in records {
            let body = " \(key)=\(value)\n"
            var length = body.utf8.count + 1
            while String(length).utf8.count + body.utf8.count != length { length += 1 }
            data += Array("\(length)\(body)".utf8)
        }
        member("PaxHeaders/x", type: "x", data: data)
    }

    /// A GNU long name (`L`) or long link name (`K`) header for the next member.
    mutating func gnuLong(_ type: Character, _ name: String) {
        member("././@LongLink", type: type, data: Array(name.utf8) + [0])
    }

    mutating func end() { bytes += [UInt8](repeating: 0, count: 1024) }
}

/// A small deterministic random number generator (SplitMix64), for repeatable mutations.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func archive(_ build: (inout TarBuilder) -> Void) -> [UInt8] {
    var builder = TarBuilder()
    build(&builder)
    builder.end()
    return builder.bytes
}

// MARK: - Tests

@Suite("TarExtractor")
struct TarExtractorTests {
    /// A tree with nested and empty directories, empty files, a 3 MB file, names longer than 100
    /// (that ustar splits into prefix and name) and 255 bytes (`n…`, not for ustar), symbolic links
    /// (`dangling`: a long target, not for ustar), varied modes and mtimes.
    private func makeTree(_ source: String, big: Bool = true) {
        let long1 = String(repeating: "n", count: 120)
        let long2 = String(repeating: "m", count: 200)
        let script = """
            set -e
            cd '\(source)'
            mkdir -p dir/sub/deep empty '\(long1)/\(long2)' ro
            printf 'hello\\n' > dir/hello.txt
            : > dir/empty
            printf 'deep' > dir/sub/deep/file
            printf 'long' > '\(long1)/\(long2)/\(String(repeating: "f", count: 150))'
            mkdir '\(String(repeating: "p", count: 90))'
            printf 'pq' > '\(String(repeating: "p", count: 90))/\(String(repeating: "q", count: 90))'
            printf 'x' > exec.sh && chmod 0750 exec.sh
            printf 'secret' > dir/private && chmod 0600 dir/private
            printf 'ro' > ro/file && chmod 0444 ro/file && chmod 0555 ro
            chmod 0710 dir/sub
            ln -s hello.txt dir/link
            ln -s ../dir/sub dir/sub/deep/up
            ln -s '\(String(repeating: "t", count: 150))/target' dangling
            \(big ? "head -c 3000000 /dev/urandom > big" : ":")
            find . -mindepth 1 -exec touch -h -d @1500000000 {} +
            touch -d @1400000123 dir/hello.txt
            touch -h -d @1300000000 dir/link
            touch -d @1200000000 dir/sub
            """
        let result = shell(script + " 2>&1")
        precondition(result.status == 0, result.text)
    }

    private func tarArchive(_ scratch: borrowing Scratch, format: String) throws -> [UInt8] {
        let result = shell("cd '\(scratch.source)' && tar --format=\(format) -cf '\(scratch.path)/a.tar' . 2>&1")
        #expect(result.status == 0, "\(result.text)")
        return try readBytes(scratch.path + "/a.tar")
    }

    private func expectSameTree(_ scratch: borrowing Scratch, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(
            listing(scratch.root, details: true) == listing(scratch.source, details: true),
            sourceLocation: sourceLocation)
        let diff = shell("diff -r --no-dereference '\(scratch.source)' '\(scratch.root)' 2>&1")
        #expect(diff.status == 0, "\(diff.text)", sourceLocation: sourceLocation)
    }

    @Test(arguments: ["ustar", "gnu", "pax"])
    func roundTripOfATreeMadeByTar(format: String) throws {
        let scratch = Scratch("roundtrip")
        makeTree(scratch.source)
        if format == "ustar" {
            // ustar cannot hold names over 255 bytes, nor link targets over 100.
            _ = shell("cd '\(scratch.source)' && rm -rf n* dangling")
        }
        let bytes = try tarArchive(scratch, format: format)
        let totals = try extract(bytes, into: scratch.root, piece: 65536)
        expectSameTree(scratch)
        #expect(totals.files == (format == "ustar" ? 8 : 9))
        #expect(totals.symbolicLinks == (format == "ustar" ? 2 : 3))
        #expect(totals.hardLinks == 0 && totals.skipped == 0)
        let expectedBytes: Int64 = format == "ustar" ? 3_000_021 : 3_000_025
        #expect(totals.bytes == expectedBytes)
        scratch.expectOutsideUntouched()
    }

    @Test func fractionalMtimesFromPax() throws {
        let scratch = Scratch("pax-mtime")
        _ = shell("cd '\(scratch.source)' && printf a > f && mkdir d && touch -d '2021-03-04 05:06:07.123456789' f d")
        let bytes = try tarArchive(scratch, format: "pax")
        try extract(bytes, into: scratch.root)
        expectSameTree(scratch)
        #expect(listing(scratch.root, details: true).allSatisfy { $0.contains(".123456789") })
    }

    @Test(arguments: zip([1, 7, 511, 513, 4099], ["gnu", "pax", "gnu", "pax", "gnu"]))
    func anySplitOfTheStreamGivesTheSameTree(piece: Int, format: String) throws {
        let scratch = Scratch("pieces")
        makeTree(scratch.source, big: piece > 500)
        let bytes = try tarArchive(scratch, format: format)
        try extract(bytes, into: scratch.root, piece: piece)
        expectSameTree(scratch)
    }

    @Test func posixPrefixFieldAndLongNamesThroughGNUAndPaxHeaders() throws {
        let scratch = Scratch("names")
        let longName = String(repeating: "a", count: 200) + "/" + String(repeating: "b", count: 200)
        let bytes = archive {
            $0.member("file", data: Array("in prefix".utf8), prefix: "some/prefix")
            $0.gnuLong("L", longName)
            $0.member("truncated-name", data: Array("gnu".utf8))
            $0.pax([
                ("path", "pax/" + String(repeating: "p", count: 250)), ("linkpath", String(repeating: "q", count: 300)),
            ])
            $0.member("ignored", type: "2", link: "ignored")
        }
        let totals = try extract(bytes, into: scratch.root)
        #expect(readText(scratch.root + "/some/prefix/file") == "in prefix")
        #expect(readText(scratch.root + "/" + longName) == "gnu")
        #expect(
            shell("readlink '\(scratch.root)/pax/\(String(repeating: "p", count: 250))'").text
                == String(repeating: "q", count: 300) + "\n")
        #expect(totals == TarExtractor.Totals(files: 2, bytes: 12, symbolicLinks: 1))
    }

    @Test func hardLinksToAnExtractedFile() throws {
        let scratch = Scratch("hardlink")
        _ = shell("cd '\(scratch.source)' && printf data > a && ln a b && mkdir d && ln a d/c")
        let bytes = try tarArchive(scratch, format: "gnu")
        let totals = try extract(bytes, into: scratch.root)
        #expect(totals.files == 1 && totals.hardLinks == 2)
        #expect(
            shell("stat -c %i '\(scratch.root)/a' '\(scratch.root)/b' '\(scratch.root)/d/c' | sort -u | wc -l").text
                == "1\n")
        #expect(readText(scratch.root + "/d/c") == "data")
    }

    @Test func modesLoseSetuidSetgidAndStickyBits() throws {
        let scratch = Scratch("modes")
        let bytes = archive {
            $0.member("suid", data: [1], mode: 0o4755)
            $0.member("sgid", data: [1], mode: 0o2750)
            $0.member("sticky/", type: "5", mode: 0o1777)
            $0.member("none", data: [1], mode: 0)
        }
        try extract(bytes, into: scratch.root)
        #expect(
            shell("cd '\(scratch.root)' && stat -c '%n %a' none sgid sticky suid").text
                == "none 0\nsgid 750\nsticky 777\nsuid 755\n")
    }

    @Test func skipsDevicesAndFIFOs() throws {
        let scratch = Scratch("devices")
        var extractor = try TarExtractor(root: FilePath(scratch.root))
        let bytes = archive {
            $0.member("fifo", type: "6")
            $0.member("null", type: "3")
            $0.member("after", data: Array("ok".utf8))
        }
        try feed(&extractor, bytes)
        #expect(
            extractor.warnings == [
                "tar member 'fifo': skipped, a FIFO", "tar member 'null': skipped, a character device",
            ])
        let totals = try extractor.finish()
        #expect(totals == TarExtractor.Totals(files: 1, bytes: 2, skipped: 2))
        #expect(listing(scratch.root) == ["./after"])
    }

    @Test func endOfStreamWithoutZeroBlocksAfterACompleteMember() throws {
        let scratch = Scratch("no-end")
        var builder = TarBuilder()
        builder.member("f", data: Array("done".utf8))
        builder.member("blocks", data: [UInt8](repeating: 9, count: 1024))
        #expect(try extract(builder.bytes, into: scratch.root).files == 2)
        #expect(try readBytes(scratch.root + "/blocks") == [UInt8](repeating: 9, count: 1024))
        // Only the last member's padding missing: complete too.
        #expect(try extract(Array(builder.bytes.prefix(516)), into: scratch.path + "/root2").files == 1)
        _ = shell("rm -rf '\(scratch.path)/root2'")
        // No byte at all is not an archive (GNU tar says the same).
        #expect(failure([], into: scratch.root) == "tar stream is empty: not a tar archive")
    }

    @Test func theRootIsCreatedPrivateAndMustNotBeASymbolicLink() throws {
        let scratch = Scratch("root")
        try extract(archive { $0.member("f") }, into: scratch.root + "/host/sub")
        #expect(
            shell("stat -c %a '\(scratch.root)' '\(scratch.root)/host' '\(scratch.root)/host/sub'").text
                == "700\n700\n700\n")
        symlink(scratch.outside, scratch.root + "/link")
        #expect(
            failure(archive { $0.member("f") }, into: scratch.root + "/link")
                == "Not a directory: \(scratch.root)/link is a symbolic link")
        // A root others may write into (or that another user owns) is refused, as --outdir's is.
        mkdir(scratch.root + "/open", 0o700)
        chmod(scratch.root + "/open", 0o777)
        #expect(
            failure(archive { $0.member("f") }, into: scratch.root + "/open")
                == "Not private: \(scratch.root)/open must be owned by you and not writable by group or others")
        if geteuid() == 0 {
            mkdir(scratch.root + "/theirs", 0o700)
            chown(scratch.root + "/theirs", 65534, 65534)
            #expect(
                failure(archive { $0.member("f") }, into: scratch.root + "/theirs")
                    == "Not private: \(scratch.root)/theirs must be owned by you and not writable by group or others")
        }
        #expect(shell("find '\(scratch.root)/open' '\(scratch.root)/theirs' -type f 2>/dev/null").text == "")
        scratch.expectOutsideUntouched()
    }

    @Test func aReadOnlyDirectoryGetsItsModeOnlyAtTheEnd() throws {
        let scratch = Scratch("readonly-dir")
        let bytes = archive {
            $0.member("ro/", type: "5", mode: 0o555, mtime: 1_000_000_000)
            $0.member("ro/f", data: [1])
            $0.member("ro/sub/", type: "5", mode: 0o500, mtime: 1_000_000_001)
            $0.member("ro/sub/g", data: [2])
        }
        try extract(bytes, into: scratch.root)
        #expect(
            listing(scratch.root, details: true) == [
                "./ro d 555 1000000000.0000000000 ",
                "./ro/f f 644 1600000000.0000000000 ",
                "./ro/sub d 500 1000000001.0000000000 ",
                "./ro/sub/g f 644 1600000000.0000000000 ",
            ])
    }

    @Test func paxRecordsOverrideTheHeaderAndGlobalHeadersAreIgnored() throws {
        let scratch = Scratch("pax-details")
        let bytes = archive {
            $0.member("global", type: "g", data: Array("19 path=../../evil\n".utf8))
            $0.pax([("size", "5"), ("mtime", "1234567890.5"), ("comment", "anything"), ("uid", "0")])
            $0.member("sized", data: Array("12345".utf8), size: 0)
            $0.pax([("linkpath", "/etc/passwd")])
            $0.member("abs-link", type: "2", link: "ignored")
        }
        let totals = try extract(bytes, into: scratch.root)
        #expect(totals == TarExtractor.Totals(files: 1, bytes: 5, symbolicLinks: 1))
        #expect(readText(scratch.root + "/sized") == "12345")
        #expect(
            listing(scratch.root, details: true) == [
                "./abs-link l 777 1600000000.0000000000 /etc/passwd", "./sized f 644 1234567890.5000000000 ",
            ])
        scratch.expectOutsideUntouched()
    }

    @Test func paxTimes() {
        #expect(TarPendingAttributes.time(Array("12".utf8))! == (12, 0))
        #expect(TarPendingAttributes.time(Array("1.5".utf8))! == (1, 500_000_000))
        #expect(TarPendingAttributes.time(Array("1.1234567891".utf8))! == (1, 123_456_789))
        #expect(TarPendingAttributes.time(Array("-1.25".utf8))! == (-2, 750_000_000))
        #expect(TarPendingAttributes.time(Array("-3".utf8))! == (-3, 0))
        #expect(TarPendingAttributes.time(Array("1.x".utf8)) == nil)
        #expect(TarPendingAttributes.time(Array("".utf8)) == nil)
        #expect(TarPendingAttributes.time(Array("99999999999999999999".utf8)) == nil)
    }

    @Test func base256NumbersAndOldHeadersWithoutMagic() throws {
        let scratch = Scratch("base256")
        let five = [0x80] + [UInt8](repeating: 0, count: 10) + [5]
        let beforeEpoch = [UInt8](repeating: 0xFF, count: 11) + [0x9C]  // -100
        let bytes = archive {
            $0.member("b256", data: Array("12345".utf8), rawSize: five, rawMtime: beforeEpoch)
            $0.member("v7", data: Array("old".utf8), prefix: "ignored", magic: false)
        }
        try extract(bytes, into: scratch.root)
        #expect(readText(scratch.root + "/b256") == "12345")
        #expect(readText(scratch.root + "/v7") == "old")
        #expect(shell("stat -c %Y '\(scratch.root)/b256'").text == "-100\n")
    }

    @Test func aLoneZeroBlockIsToleratedAndWhatFollowsTheEndIsIgnored() throws {
        let scratch = Scratch("zero-blocks")
        var builder = TarBuilder()
        builder.member("one", data: [1])
        builder.bytes += [UInt8](repeating: 0, count: 512)
        builder.member("two", data: [2])
        builder.end()
        builder.bytes += Array("garbage after the end".utf8)
        builder.member("three", data: [3])
        #expect(try extract(builder.bytes, into: scratch.root, piece: 100).files == 2)
        #expect(listing(scratch.root) == ["./one", "./two"])
    }

    @Test func concatenatedArchivesAreReadAsOne() throws {
        let scratch = Scratch("concatenated")
        var builder = TarBuilder()
        builder.member("one", data: [1])
        builder.end()
        builder.bytes += [UInt8](repeating: 0, count: 9216)  // GNU tar's record padding
        builder.member("d/", type: "5", mode: 0o750, mtime: 1_000_000_000)
        builder.member("d/two", data: [2])
        builder.end()
        var extractor = try TarExtractor(root: FilePath(scratch.root), concatenated: true)
        try feed(&extractor, builder.bytes, piece: 300)
        #expect(try extractor.finish() == TarExtractor.Totals(files: 2, bytes: 2, directories: 1))
        #expect(listing(scratch.root) == ["./d", "./d/two", "./one"])
        #expect(shell("stat -c '%a %Y' '\(scratch.root)/d'").text == "750 1000000000\n")
        // Garbage after an archive is no archive: with `concatenated`, it fails the stream.
        var garbage = TarBuilder()
        garbage.member("x", data: [1])
        garbage.end()
        garbage.bytes += [UInt8](repeating: 0x41, count: 512)
        var second = try TarExtractor(root: FilePath(scratch.path + "/root2"), concatenated: true)
        #expect(throws: TarExtractor.Failure.self) { try feed(&second, garbage.bytes) }
        _ = shell("rm -rf '\(scratch.path)/root2'")
        // An extended header right before the end has no member: a failure, either way.
        var dangling = TarBuilder()
        dangling.pax([("path", "x")])
        dangling.end()
        #expect(
            failure(dangling.bytes, into: scratch.path + "/root3")
                == "tar header at byte 1536: the archive ends after an extended header")
        _ = shell("rm -rf '\(scratch.path)/root3'")
    }

    /// Directory members wait for their mode and time only while the stream is inside them, so
    /// what the extractor holds does not grow with the members: 1,000 directories with 200-byte
    /// names one after another, each with a read-only mode, keep one waiting at a time, and each
    /// gets its mode and time.
    @Test func directoriesGetTheirModeWhenTheStreamLeavesThem() throws {
        let scratch = Scratch("leave-dirs")
        var extractor = try TarExtractor(root: FilePath(scratch.root))
        let long = String(repeating: "d", count: 196)
        var most = 0
        for index in 0..<1000 {
            let name = long + String(index + 1000)
            var builder = TarBuilder()
            builder.pax([("path", name + "/")])
            builder.member("x/", type: "5", mode: 0o555, mtime: 1_000_000_000 + index)
            builder.pax([("path", name + "/f")])
            builder.member("f", data: [1])
            try feed(&extractor, builder.bytes)
            most = max(most, extractor.openDirectoryCount)
        }
        // Nested: each waits while the stream is inside it.
        var nested = TarBuilder()
        nested.member("n/", type: "5", mode: 0o500)
        nested.member("n/m/", type: "5", mode: 0o700, mtime: 1_200_000_000)
        nested.member("n/m/f", data: [1])
        nested.member("n/g", data: [1])
        try feed(&extractor, nested.bytes)
        #expect(extractor.openDirectoryCount == 1)
        try feed(&extractor, [UInt8](repeating: 0, count: 1024))
        #expect(try extractor.finish().directories == 1002)
        #expect(most == 1)
        #expect(
            shell("cd '\(scratch.root)' && stat -c '%a %Y' \(long)1000 \(long)1999 n n/m").text
                == "555 1000000000\n555 1000000999\n500 1600000000\n700 1200000000\n")
        #expect(readText(scratch.root + "/n/m/f") != nil)
    }

    @Test func skippedMembersAreNamedInOneLine() throws {
        let scratch = Scratch("skipped-line")
        var extractor = try TarExtractor(root: FilePath(scratch.root))
        var builder = TarBuilder()
        for index in 0..<25 { builder.member("p\(index)", type: "6") }
        builder.member("dev/sda", type: "4")
        builder.member("v", type: "V", data: Array("label".utf8))
        builder.end()
        try feed(&extractor, builder.bytes)
        #expect(try extractor.finish() == TarExtractor.Totals(skipped: 27))
        #expect(
            extractor.skippedSummary
                == "skipped 27 members: " + (0..<10).map { "'p\($0)' (a FIFO)" }.joined(separator: ", ")
                + ", and 17 more")
        #expect(extractor.warnings.count == 20)
        var none = try TarExtractor(root: FilePath(scratch.path + "/root2"))
        try feed(&none, archive { $0.member("f") })
        _ = try none.finish()
        #expect(none.skippedSummary == nil)
        _ = shell("rm -rf '\(scratch.path)/root2'")
    }

    @Test func repeatedDirectoriesTakeTheLastModeAndHardLinksMayUseAbsoluteNames() throws {
        let scratch = Scratch("repeat")
        let bytes = archive {
            $0.member("d/", type: "5", mode: 0o700)
            $0.member("d/f", data: Array("f".utf8))
            $0.member("d/", type: "5", mode: 0o750, mtime: 1_000_000_000)
            $0.member("/d/g", type: "1", link: "/d/f")
            $0.member("x/", type: "D", data: Array("Nlisting\u{0}".utf8))
        }
        let totals = try extract(bytes, into: scratch.root)
        #expect(totals == TarExtractor.Totals(files: 1, bytes: 1, directories: 2, hardLinks: 1))
        #expect(
            shell("stat -c '%a %Y %h' '\(scratch.root)/d' '\(scratch.root)/d/g'").text
                == "750 1000000000 2\n644 1600000000 2\n")
    }

    @Test func namesThatCannotBeMade() {
        let scratch = Scratch("cannot")
        let notADirectory = archive {
            $0.member("f", data: [1])
            $0.member("f/g", data: [2])
        }
        #expect(failure(notADirectory, into: scratch.root) == "tar member 'f/g': 'f' is not a directory")
        let long = String(repeating: "z", count: 300)
        let tooLong = archive {
            $0.pax([("path", long)])
            $0.member("x", data: [1])
        }
        #expect(failure(tooLong, into: scratch.root) == "tar member '\(long)': cannot create: File name too long")
        let nul = archive {
            $0.pax([("path", "a\u{0}b")])
            $0.member("x", data: [1])
        }
        #expect(failure(nul, into: scratch.root) == "tar member 'a\\x00b': a NUL byte in the name")
        let huge = String(repeating: "y/", count: 5000) + ".."
        let hugeName = archive {
            $0.pax([("path", huge)])
            $0.member("x", data: [1])
        }
        #expect(
            failure(hugeName, into: scratch.root)
                == "tar member '\(huge.prefix(1024))…': a '..' component would leave the destination")
        #expect(
            failure(
                archive {
                    $0.member("./", type: "0", data: [1]); $0.member(".", data: [1])
                }, into: scratch.root)
                == "tar member '.': not a file name")
        scratch.expectOutsideUntouched()
    }

    @Test func feedingAfterFinishIsAFailure() throws {
        let scratch = Scratch("after-finish")
        var extractor = try TarExtractor(root: FilePath(scratch.root))
        try extractor.consume(archive { $0.member("f") })
        #expect(try extractor.finish() == TarExtractor.Totals(files: 1))
        #expect(try extractor.finish() == TarExtractor.Totals(files: 1))
        #expect(throws: TarExtractor.Failure.self) { try extractor.consume([0]) }
    }

    /// A 10 MB file fed in 64 KiB pieces (as a pipe delivers it): the CPU time is the copy into the
    /// write buffer and the writes.
    @Test func tenMegabytesCostLittleCPU() throws {
        let scratch = Scratch("cpu")
        var builder = TarBuilder()
        builder.member("big", data: [UInt8](repeating: 0x5A, count: 10_000_000))
        builder.end()
        func cpuTime() -> Duration {
            var now = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
            return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
        }
        let start = cpuTime()
        let totals = try extract(builder.bytes, into: scratch.root, piece: 65536)
        let spent = cpuTime() - start
        #expect(totals.bytes == 10_000_000)
        print("TarExtractor: 10 MB extracted with \(spent) of CPU")
        // Generous: a debug build on a shared machine (a release build needs a few milliseconds).
        #expect(spent < .milliseconds(500))
    }

    // MARK: Hostile archives

    /// Traps GNU tar itself can produce: `-P` keeps `../` and `/`; `--transform` puts a file
    /// behind a symbolic link stored just before it.
    @Test func hostileArchivesMadeByGNUTar() throws {
        let scratch = Scratch("gnu-hostile")
        let setup = shell(
            """
            cd '\(scratch.source)' && mkdir x && printf evil > x/f && ln -s '\(scratch.outside)' l \
            && tar -cf ../through.tar l x/f --transform='s,^x/,l/,' \
            && tar -P -cf ../dotdot.tar ../source/x/f \
            && tar -P -cf ../absolute.tar '\(scratch.source)/x/f' 2>&1
            """)
        #expect(setup.status == 0, "\(setup.text)")
        #expect(
            failure(try readBytes(scratch.path + "/through.tar"), into: scratch.root)
                == "tar member 'l/f': 'l' is a symbolic link, never followed")
        #expect(
            failure(try readBytes(scratch.path + "/dotdot.tar"), into: scratch.root)
                == "tar member '../source/x/f': a '..' component would leave the destination")
        try extract(try readBytes(scratch.path + "/absolute.tar"), into: scratch.root)
        #expect(readText(scratch.root + scratch.source + "/x/f") == "evil")
        _ = shell("rm '\(scratch.path)'/*.tar")
        scratch.expectOutsideUntouched()
    }

    /// A file with holes: data at 5000, at 1 MiB and at 3 MiB, a hole at its end.
    private func makeSparseFiles(_ source: String) {
        let made = shell(
            """
            cd '\(source)' && truncate -s 4M holes && printf abc | dd of=holes bs=1 seek=5000 conv=notrunc 2>/dev/null \
            && head -c 70000 /dev/urandom | dd of=holes bs=1024 seek=1024 conv=notrunc 2>/dev/null \
            && printf z | dd of=holes bs=1 seek=3145728 conv=notrunc 2>/dev/null \
            && truncate -s 2M empty-holes && printf a > plain && touch -d @1500000000 holes empty-holes plain 2>&1
            """)
        precondition(made.status == 0, made.text)
    }

    /// GNU tar's sparse formats (old GNU, pax 0.0, 0.1, 1.0) and bsdtar's (pax 1.0): the same
    /// bytes, the same holes (a few blocks on disk, not megabytes), the sizes counted.
    @Test(arguments: [
        "tar --format=gnu -S", "tar --format=posix --sparse-version=0.0 -S",
        "tar --format=posix --sparse-version=0.1 -S",
        "tar --format=posix --sparse-version=1.0 -S", "bsdtar",
    ])
    func sparseFilesAreUnpackedWithTheirHoles(tar: String) throws {
        let program = String(tar.split(separator: " ")[0])
        guard shell("command -v \(program)").status == 0 else {
            Issue.record("\(program) is not installed (apt-get install libarchive-tools)")
            return
        }
        let scratch = Scratch("sparse")
        makeSparseFiles(scratch.source)
        let made = shell("cd '\(scratch.source)' && \(tar) -cf '\(scratch.path)/a.tar' holes empty-holes plain 2>&1")
        #expect(made.status == 0, "\(made.text)")
        let bytes: [UInt8] = try readBytes(scratch.path + "/a.tar")
        let totals = try extract(bytes, into: scratch.root, piece: 777)
        #expect(totals == TarExtractor.Totals(files: 3, bytes: 4_194_304 + 2_097_152 + 1))
        expectSameTree(scratch)
        // Holes stay holes: 70 KB of data in a 4 MB file.
        let blocks = Int(shell("stat -c %b '\(scratch.root)/holes'").text.dropLast()) ?? .max
        #expect(blocks < 1024, "\(blocks) blocks")
        #expect(shell("stat -c %b '\(scratch.root)/empty-holes'").text == "0\n")
        scratch.expectOutsideUntouched()
    }

    /// A sparse header with its map in extension blocks (an old GNU header holds 4 entries): 30
    /// pieces, at 8 KiB steps.
    @Test func oldGNUSparseMapsInExtensionBlocks() throws {
        let scratch = Scratch("sparse-extended")
        let script = (0..<30).map { "printf '%04d' \($0) | dd of=many bs=1 seek=\($0 * 8192) conv=notrunc 2>/dev/null" }
        let made = shell(
            "cd '\(scratch.source)' && truncate -s 300000 many && \(script.joined(separator: " && "))"
                + " && touch -d @1500000000 many && tar --format=gnu -S -cf '\(scratch.path)/a.tar' many 2>&1")
        #expect(made.status == 0, "\(made.text)")
        #expect(try extract(try readBytes(scratch.path + "/a.tar"), into: scratch.root, piece: 100).files == 1)
        expectSameTree(scratch)
    }

    /// Sparse maps a hostile host could send: every one fails its member with a reason, and
    /// nothing is written outside the file, nor past its declared size.
    @Test func hostileSparseMaps() {
        let scratch = Scratch("sparse-hostile")
        func pax(_ records: [(String, String)], data: [UInt8], size: Int? = nil) -> [UInt8] {
            archive {
                $0.pax(records)
                $0.member("f", data: data, size: size)
            }
        }
        let cases: [(String, [UInt8], String)] = [
            (
                "past the end",
                pax([("GNU.sparse.size", "10"), ("GNU.sparse.map", "8,4")], data: [1, 2, 3, 4]),
                "sparse map with an entry past the file's size (10 bytes)"
            ),
            (
                "overlapping",
                pax([("GNU.sparse.size", "100"), ("GNU.sparse.map", "0,4,2,4")], data: Array(repeating: 7, count: 8)),
                "sparse map with entries out of order or overlapping"
            ),
            (
                "out of order",
                pax([("GNU.sparse.size", "100"), ("GNU.sparse.map", "50,1,0,1")], data: [1, 2]),
                "sparse map with entries out of order or overlapping"
            ),
            (
                "more data than the map",
                pax([("GNU.sparse.size", "100"), ("GNU.sparse.map", "0,1")], data: [1, 2]),
                "sparse map of 1 bytes for 2 bytes of data"
            ),
            (
                "offset overflow",
                pax(
                    [("GNU.sparse.size", "100"), ("GNU.sparse.map", "999999999999999999,999999999999999999")],
                    data: [1]),
                "sparse map with an entry past the file's size (100 bytes)"
            ),
            (
                "odd map",
                pax([("GNU.sparse.size", "100"), ("GNU.sparse.map", "0,1,5")], data: [1]),
                "sparse map with an offset but no size"
            ),
            (
                "numblocks disagrees",
                pax([("GNU.sparse.size", "100"), ("GNU.sparse.numblocks", "5"), ("GNU.sparse.map", "0,1")], data: [1]),
                "sparse map of 1 entries, GNU.sparse.numblocks says 5"
            ),
            (
                "no size",
                pax([("GNU.sparse.map", "0,1")], data: [1]),
                "sparse file without GNU.sparse.size"
            ),
            (
                "1.0: huge count",
                pax(
                    [("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.realsize", "10")],
                    data: Array("99999999\n".utf8)),
                "sparse map of 99999999 entries: more than 131072"
            ),
            (
                "1.0: map longer than the data",
                pax(
                    [("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.realsize", "10")],
                    data: Array("2\n0\n1\n".utf8)),
                "its sparse map runs past its data"
            ),
            (
                "1.0: not numbers",
                pax(
                    [("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.realsize", "10")],
                    data: Array("1\n-5\n1\n".utf8)),
                "sparse map that is not a list of numbers"
            ),
            (
                "1.0: past the end",
                pax(
                    [("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.realsize", "10")],
                    data: Array("1\n9\n2\n".utf8) + [UInt8](repeating: 0, count: 506) + [1, 2]),
                "sparse map with an entry past the file's size (10 bytes)"
            ),
            (
                "0.0: numbytes first",
                pax([("GNU.sparse.size", "10"), ("GNU.sparse.numbytes", "1")], data: [1]),
                "GNU.sparse.numbytes without its offset"
            ),
            (
                "two maps",
                pax(
                    [
                        ("GNU.sparse.size", "10"), ("GNU.sparse.offset", "0"), ("GNU.sparse.numbytes", "1"),
                        ("GNU.sparse.map", "0,1"),
                    ], data: [1]),
                "two sparse maps"
            ),
        ]
        for (label, bytes, reason) in cases {
            let message = failure(bytes, into: scratch.root + "/" + label.replacingOccurrences(of: " ", with: "-"))
            #expect(message?.hasSuffix(reason) == true, "\(label): \(message ?? "no failure")")
        }
        // An old GNU header whose extension blocks never end: refused past the limit, not read on.
        var endless = TarBuilder()
        endless.member("g", type: "S", data: [])
        endless.bytes[endless.headers[0] + 482] = 1
        endless.fixChecksum(at: endless.headers[0])
        var block = [UInt8](repeating: 0, count: 512)
        for index in 0..<21 {
            let octal = String(index * 10, radix: 8)
            let entry =
                Array((String(repeating: "0", count: 11 - octal.count) + octal).utf8) + [0]
                + Array("00000000001".utf8) + [0]
            block.replaceSubrange((index * 24)..<(index * 24 + 24), with: entry)
        }
        block[504] = 1
        var stream = endless.bytes
        for _ in 0..<(TarSparseMap.maximumEntries / 21 + 2) { stream += block }
        #expect(
            failure(stream, into: scratch.root + "/endless") == "tar member 'g': sparse map of more than 131072 entries"
        )
        // A huge size: a hole, never disk space (or refused by the file system).
        let huge = pax([("GNU.sparse.size", "100000000000000000"), ("GNU.sparse.map", "0,1")], data: [1])
        if let message = failure(huge, into: scratch.root + "/huge") {
            #expect(message == "tar member 'f': cannot set size: File too large")
        } else {
            #expect(shell("stat -c '%s %b' '\(scratch.root)/huge/f'").text.hasPrefix("100000000000000000 "))
            #expect((Int(shell("stat -c %b '\(scratch.root)/huge/f'").text.dropLast()) ?? .max) < 64)
        }
        // An unknown sparse format is skipped, and said so.
        var extractor = try! TarExtractor(root: FilePath(scratch.root + "/unknown"))
        try! feed(&extractor, pax([("GNU.sparse.major", "2"), ("GNU.sparse.realsize", "10")], data: [1]))
        #expect(try! extractor.finish() == TarExtractor.Totals(skipped: 1))
        #expect(extractor.skippedSummary == "skipped 1 member: 'f' (a sparse file of unknown format 2.0)")
        scratch.expectOutsideUntouched()
    }

    /// Random changes to the headers of an archive full of traps (links to the sentinel directory
    /// and to the scratch directory, names next to '..'), each with a valid checksum: whatever
    /// the extractor makes of them, nothing appears outside the root and nothing crashes.
    @Test(.alone) func mutatedHeadersNeverEscape() throws {
        let scratch = Scratch("mutations")
        var base = TarBuilder()
        base.member("d/", type: "5", mode: 0o755)
        base.member("d/f", data: Array("file".utf8))
        base.member("d/l", type: "2", link: scratch.outside)
        base.member("d/up", type: "2", link: "..")
        base.member("s", type: "2", link: scratch.path)
        base.member("d/h", type: "1", link: "d/f")
        base.gnuLong("L", "d/long/..name")
        base.member("x.", data: Array("gnu".utf8))
        base.pax([("path", "p/.../x"), ("linkpath", "../..")])
        base.member("p", type: "2", link: "x")
        base.member("d/x/./.", type: "5")
        base.member("z/.x", data: Array("last".utf8))
        base.end()
        #expect(failure(base.bytes, into: scratch.root + "/base") == nil)
        var random = SplitMix64(seed: 12)
        let interesting: [UInt8] = Array("/.0125LKxg\u{0}".utf8) + [0x80, 0xFF]
        var outcomes = (succeeded: 0, failed: 0)
        for round in 0..<100 {
            var mutated = base
            for _ in 0..<(1 + Int(random.next() % 3)) {
                let header = mutated.headers[Int(random.next() % UInt64(mutated.headers.count))]
                var position = Int(random.next() % 512)
                if (148..<156).contains(position) { position = 156 }
                let value =
                    random.next() % 2 == 0
                    ? interesting[Int(random.next() % UInt64(interesting.count))]
                    : UInt8(truncatingIfNeeded: random.next())
                mutated.bytes[header + position] = value
                mutated.fixChecksum(at: header)
            }
            let root = scratch.root + "/\(round)"
            if failure(mutated.bytes, into: root, piece: 1 + Int(random.next() % 700)) == nil {
                outcomes.succeeded += 1
            } else {
                outcomes.failed += 1
            }
        }
        scratch.expectOutsideUntouched()
        // Both outcomes occur: the mutations are neither all harmless nor all refused.
        #expect(outcomes.succeeded > 10 && outcomes.failed > 10, "\(outcomes)")
    }

    @Test(arguments: ["../x", "a/../../x", "a/b/../../../x", "..", "./../x"])
    func parentComponentsAreRefused(name: String) {
        let scratch = Scratch("dotdot")
        let bytes = archive { $0.member(name, data: Array("evil".utf8)) }
        #expect(
            failure(bytes, into: scratch.root) == "tar member '\(name)': a '..' component would leave the destination")
        scratch.expectOutsideUntouched()
    }

    @Test func parentComponentsInLongNamesAndPaxPathsAreRefused() {
        let scratch = Scratch("dotdot-ext")
        let viaPax = archive {
            $0.pax([("path", "../outside/evil")])
            $0.member("innocent", data: Array("evil".utf8))
        }
        #expect(
            failure(viaPax, into: scratch.root)
                == "tar member '../outside/evil': a '..' component would leave the destination")
        let viaGNU = archive {
            $0.gnuLong("L", "ok/../../outside/evil")
            $0.member("innocent", data: Array("evil".utf8))
        }
        #expect(
            failure(viaGNU, into: scratch.root)
                == "tar member 'ok/../../outside/evil': a '..' component would leave the destination")
        let viaPrefix = archive { $0.member("evil", data: Array("evil".utf8), prefix: "..") }
        #expect(
            failure(viaPrefix, into: scratch.root)
                == "tar member '../evil': a '..' component would leave the destination")
        scratch.expectOutsideUntouched()
    }

    @Test func absoluteNamesLandUnderTheRoot() throws {
        let scratch = Scratch("absolute")
        let bytes = archive {
            $0.member(scratch.outside + "/abs", data: Array("evil".utf8))
            $0.member("//twice", data: Array("x".utf8))
        }
        try extract(bytes, into: scratch.root)
        #expect(readText(scratch.root + scratch.outside + "/abs") == "evil")
        #expect(readText(scratch.root + "/twice") == "x")
        scratch.expectOutsideUntouched()
    }

    @Test func neverWritesThroughASymbolicLinkTheStreamMade() {
        let scratch = Scratch("through-link")
        let bytes = archive {
            $0.member("l", type: "2", link: scratch.outside)
            $0.member("l/f", data: Array("evil".utf8))
        }
        #expect(failure(bytes, into: scratch.root) == "tar member 'l/f': 'l' is a symbolic link, never followed")
        #expect(shell("readlink '\(scratch.root)/l'").text == scratch.outside + "\n")
        scratch.expectOutsideUntouched()

        // The same deeper down, and with a relative link.
        let deeper = archive {
            $0.member("a/b/", type: "5")
            $0.member("a/b/l", type: "2", link: "../../../outside")
            $0.member("a/b/l/sentinel", data: Array("evil".utf8))
        }
        #expect(
            failure(deeper, into: scratch.root) == "tar member 'a/b/l/sentinel': 'l' is a symbolic link, never followed"
        )
        scratch.expectOutsideUntouched()
    }

    @Test func aFileReplacesASymbolicLinkInsteadOfWritingItsTarget() throws {
        let scratch = Scratch("replace-link")
        let bytes = archive {
            $0.member("l", type: "2", link: scratch.outside + "/sentinel")
            $0.member("l", data: Array("evil".utf8))
            $0.member("d", type: "2", link: scratch.outside)
            $0.member("d/", type: "5")
            $0.member("d/f", data: Array("ok".utf8))
        }
        let totals = try extract(bytes, into: scratch.root)
        #expect(readText(scratch.root + "/l") == "evil")
        #expect(shell("stat -c %F '\(scratch.root)/l' '\(scratch.root)/d'").text == "regular file\ndirectory\n")
        #expect(totals == TarExtractor.Totals(files: 2, bytes: 6, directories: 1, symbolicLinks: 2))
        scratch.expectOutsideUntouched()
    }

    @Test func symbolicLinksAlreadyInTheRootAreNotFollowed() throws {
        let scratch = Scratch("existing-link")
        mkdir(scratch.root, 0o700)
        symlink(scratch.outside, scratch.root + "/pre")
        symlink(scratch.outside + "/sentinel", scratch.root + "/file")
        #expect(
            failure(archive { $0.member("pre/sentinel", data: Array("evil".utf8)) }, into: scratch.root)
                == "tar member 'pre/sentinel': 'pre' is a symbolic link, never followed")
        try extract(archive { $0.member("file", data: Array("mine".utf8)) }, into: scratch.root)
        #expect(readText(scratch.root + "/file") == "mine")
        #expect(
            failure(archive { $0.member("file", type: "1", link: scratch.outside + "/sentinel") }, into: scratch.root)
                != nil)
        scratch.expectOutsideUntouched()
    }

    @Test func hardLinksOutsideTheArchiveAreRefused() {
        let scratch = Scratch("hardlink-out")
        #expect(
            failure(archive { $0.member("passwd", type: "1", link: "/etc/passwd") }, into: scratch.root)
                == "tar member 'passwd': hard link to '/etc/passwd', not a file extracted before it")
        #expect(
            failure(archive { $0.member("s", type: "1", link: "../outside/sentinel") }, into: scratch.root)
                == "tar member 's': hard link to '../outside/sentinel', outside the destination")
        // A link whose target is a symbolic link the stream made is refused too.
        let viaSymlink = archive {
            $0.member("t", type: "2", link: scratch.outside + "/sentinel")
            $0.member("h", type: "1", link: "t")
        }
        #expect(
            failure(viaSymlink, into: scratch.root)
                == "tar member 'h': hard link to 't', not a file extracted before it")
        #expect(shell("find '\(scratch.path)' -samefile '\(scratch.outside)/sentinel' | wc -l").text == "1\n")
        // Nothing was created looking for a target; a file already in the root is not one.
        #expect(listing(scratch.root) == ["./t"])
        writeText(scratch.root + "/before", "not from this stream")
        #expect(
            failure(archive { $0.member("h", type: "1", link: "before") }, into: scratch.root)
                == "tar member 'h': hard link to 'before', not a file extracted before it")
        scratch.expectOutsideUntouched()
    }

    @Test func aDirectoryInTheWayIsAFailure() {
        let scratch = Scratch("dir-in-way")
        let bytes = archive {
            $0.member("d/", type: "5")
            $0.member("d", type: "2", link: scratch.outside)
        }
        #expect(failure(bytes, into: scratch.root) == "tar member 'd': a directory is in the way")
        scratch.expectOutsideUntouched()
    }

    @Test func truncatedArchives() {
        let scratch = Scratch("truncated")
        var builder = TarBuilder()
        builder.member("big", data: [UInt8](repeating: 7, count: 1000))
        #expect(
            failure(Array(builder.bytes.prefix(512 + 100)), into: scratch.root)
                == "tar archive truncated: member 'big' ends after 100 of 1000 bytes")
        #expect(
            failure(Array(builder.bytes.prefix(300)), into: scratch.root)
                == "tar archive truncated: it ends inside a header (300 of 512 bytes)")
        var pax = TarBuilder()
        pax.pax([("path", "x")])
        #expect(
            failure(pax.bytes, into: scratch.root)
                == "tar archive truncated: it ends after an extended header, before its member")
        scratch.expectOutsideUntouched()
    }

    @Test func badChecksumsAndNumbers() {
        let scratch = Scratch("checksum")
        #expect(
            failure(archive { $0.member("f", data: [1], corrupt: true) }, into: scratch.root)
                == "tar header at byte 0 ('f'): checksum mismatch (corrupt or not a tar archive)")
        var garbage = [UInt8](repeating: 0x41, count: 2048)
        garbage[0] = 0x42
        #expect(failure(garbage, into: scratch.root)?.hasPrefix("tar header at byte 0 (") == true)
        #expect(
            failure(archive { $0.member("f", rawSize: Array("12x4".utf8)) }, into: scratch.root)
                == "tar header at byte 0 ('f'): invalid octal number")
        #expect(listing(scratch.root).isEmpty)
        scratch.expectOutsideUntouched()
    }

    @Test func hugeSizeFields() {
        let scratch = Scratch("huge")
        // Base-256, 2^62 bytes: nothing is allocated; the stream just ends too early.
        let huge = [0x80] + [UInt8](repeating: 0, count: 3) + [0x40] + [UInt8](repeating: 0, count: 7)
        #expect(
            failure(archive { $0.member("f", rawSize: huge, writeData: false) }, into: scratch.root)
                == "tar archive truncated: member 'f' ends after 1024 of 4611686018427387904 bytes")
        let overflow = [0x80] + [UInt8](repeating: 0xFF, count: 11)
        #expect(
            failure(archive { $0.member("f", rawSize: overflow) }, into: scratch.root)
                == "tar header at byte 0 ('f'): number too large")
        let negative = [UInt8](repeating: 0xFF, count: 12)
        #expect(
            failure(archive { $0.member("f", rawSize: negative) }, into: scratch.root)
                == "tar header at byte 0 ('f'): negative size")
        #expect(
            failure(archive { $0.member("huge", type: "x", size: 1 << 30, writeData: false) }, into: scratch.root)
                == "tar header at byte 0: extended header of 1073741824 bytes is too large")
        #expect(
            failure(
                archive {
                    $0.pax([("size", "-1")]); $0.member("f")
                }, into: scratch.root)
                == "tar member after pax header 'PaxHeaders/x': invalid pax size")
        scratch.expectOutsideUntouched()
    }

    @Test func aFailedExtractorStaysFailed() {
        let scratch = Scratch("stays-failed")
        do {
            var extractor = try TarExtractor(root: FilePath(scratch.root))
            let bad = archive { $0.member("../x") }
            let good = archive { $0.member("y") }
            #expect(throws: TarExtractor.Failure.self) {
                try feed(&extractor, bad)
            }
            #expect(throws: TarExtractor.Failure.self) {
                try feed(&extractor, good)
            }
            #expect(throws: TarExtractor.Failure.self) { _ = try extractor.finish() }
        } catch {
            Issue.record("\(error)")
        }
        #expect(listing(scratch.root).isEmpty)
    }
}
