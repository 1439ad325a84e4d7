#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The byte-level routines of the output path, on which bench/run case 2 (4 M prefixed lines)
// depends: lines are counted and copied a machine word at a time, and long lines with memchr.

/// A word with the high bit set in each byte of `word` that is a newline (0x0A).
@inline(__always)
private func newlineBits(_ word: UInt64) -> UInt64 {
    let x = word ^ 0x0A0A_0A0A_0A0A_0A0A  // newline bytes become zero
    let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    return ~(((x & low7) &+ low7) | x | low7)  // high bit set exactly in the zero bytes
}

/// The number of newline bytes in `raw`, eight bytes at a time.
func countNewlines(_ raw: UnsafeRawBufferPointer) -> Int {
    guard let base = raw.baseAddress else { return 0 }
    var index = 0
    var count = 0
    while index + 8 <= raw.count {
        count &+= newlineBits(base.loadUnaligned(fromByteOffset: index, as: UInt64.self)).nonzeroBitCount
        index += 8
    }
    while index < raw.count {
        if base.load(fromByteOffset: index, as: UInt8.self) == 0x0A { count += 1 }
        index += 1
    }
    return count
}

/// `bytes` with `prefix` before every line; a final newline is added when `terminate` is set.
///
/// One pass counts the lines, so that the result is allocated at its exact size (a queued buffer
/// holds no slack); the second copies, choosing per chunk between a word-at-a-time loop (short
/// lines, where a call per line would dominate) and `memchr` + `memcpy` (long lines).
func prefixLines(_ bytes: ArraySlice<UInt8>, with prefix: [UInt8], terminate: Bool) -> [UInt8] {
    bytes.withUnsafeBytes { source in
        prefix.withUnsafeBytes { prefix in
            let length = source.count
            let newlines = countNewlines(source)
            let lines = newlines + (length > 0 && source[length - 1] != 0x0A ? 1 : 0)
            let total = length + lines * prefix.count + (terminate ? 1 : 0)
            // Eight bytes of slack: the word loop stores whole words past the last byte it keeps.
            return [UInt8](unsafeUninitializedCapacity: total + 8) { target, count in
                let out = UnsafeMutableRawPointer(target.baseAddress!)
                var written = 0
                if let from = source.baseAddress, lines > 0 {
                    written =
                        length / lines < 32
                        ? copyShortLines(from, length, prefix, out)
                        : copyLongLines(from, length, prefix, out)
                }
                if terminate {
                    out.storeBytes(of: 0x0A, toByteOffset: written, as: UInt8.self)
                    written += 1
                }
                count = written
            }
        }
    }
}

private func copyShortLines(
    _ source: UnsafeRawPointer, _ length: Int, _ prefix: UnsafeRawBufferPointer, _ out: UnsafeMutableRawPointer
) -> Int {
    var read = 0
    var written = 0
    while read < length {
        if prefix.count > 0 {
            (out + written).copyMemory(from: prefix.baseAddress!, byteCount: prefix.count)
            written += prefix.count
        }
        while true {  // copy up to and including the next newline, a word at a time
            if read + 8 <= length {
                let word = source.loadUnaligned(fromByteOffset: read, as: UInt64.self)
                out.storeBytes(of: word, toByteOffset: written, as: UInt64.self)
                let bits = newlineBits(word)
                if bits == 0 {
                    read += 8
                    written += 8
                    continue
                }
                let kept = bits.trailingZeroBitCount / 8 + 1
                read += kept
                written += kept
                break
            }
            let byte = source.load(fromByteOffset: read, as: UInt8.self)
            out.storeBytes(of: byte, toByteOffset: written, as: UInt8.self)
            read += 1
            written += 1
            if byte == 0x0A || read == length { break }
        }
    }
    return written
}

private func copyLongLines(
    _ source: UnsafeRawPointer, _ length: Int, _ prefix: UnsafeRawBufferPointer, _ out: UnsafeMutableRawPointer
) -> Int {
    var from = source
    let end = source + length
    var to = out
    while from < end {
        let lineEnd = memchr(from, 0x0A, end - from).map { UnsafeRawPointer($0) + 1 } ?? end
        if prefix.count > 0 {
            to.copyMemory(from: prefix.baseAddress!, byteCount: prefix.count)
            to += prefix.count
        }
        to.copyMemory(from: from, byteCount: lineEnd - from)
        to += lineEnd - from
        from = lineEnd
    }
    return out.distance(to: to)
}
