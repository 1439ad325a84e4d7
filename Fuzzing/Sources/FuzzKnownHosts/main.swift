import CLibFuzzer

@testable import Passh

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The known_hosts reader of the libssh transport (`KnownHosts`, internal: the fuzz build enables
// testing). The input is a selector byte (which of three keys is presented, on port 22 or 2222),
// a host name up to the first newline, then the file. On every input:
// - the file's verdict is the combination of its lines' verdicts, each line read alone (a line
//   that cannot be read hides nothing; a revocation wins, then a line holding the key, then a
//   change, then a certificate authority), and the order of lines and files does not matter;
// - a line that alone says anything of the key is checked against its own fields, split here
//   independently: `known` needs an unmarked line holding the very key under a pattern list that
//   names the host, `revoked` a `@revoked` one, `changed` an unmarked one with another key of a
//   known type, `certificateAuthorityOnly` a `@cert-authority` one (a hashed name is not
//   recomputed here: its seeds hold names hashed by ssh-keygen);
// - the pattern matcher agrees with a plain dynamic-programming matcher on every pattern of the
//   file against the host's name.

/// The keys presented: two ed25519 keys and an RSA key (made by ssh-keygen).
private let keyTexts = [
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAKR6j2XBWzR9GKGNy0makMxSVoDic/a/u7nmUucOt24",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM8mvBvjdPuiV5mEvlTRRlrbhdFVwTnAMC47q1JZLSwK",
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDGd4kAS3u+/XgcAJ3WyHCWzYpV1duvehL9CB5ZUwT8H3dsYarEnOsf1c2QXLLzzjL7IAyvHOdW"
        + "+tBI76IJfB2ShGmCZpioWlFAAkMo+nucjBD9KLOX88T6XPYjEFykeAX8mItHoQfi8hawdrGNDWmuGVwrJhjznnGKKSuK/fPUAQ==",
]
private let keys: [[UInt8]] = keyTexts.map { decodeBase64(Array($0.split(separator: " ")[1].utf8)[...])! }

/// Base64, both alphabets, padding optional, bits left over ignored: at least as lenient as any
/// decoder the reader could use, so a blob it reads as a key this one reads as the same bytes.
func decodeBase64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
    var bytes: [UInt8] = []
    var accumulator = 0
    var bits = 0
    var padding = false
    for byte in text {
        let value: Int
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = Int(byte) - 65
        case UInt8(ascii: "a")...UInt8(ascii: "z"): value = Int(byte) - 97 + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte) - 48 + 52
        case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
        case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
        case UInt8(ascii: "="):
            padding = true
            continue
        default: return nil
        }
        if padding { return nil }
        accumulator = (accumulator << 6 | value) & 0xFFFF
        bits += 6
        if bits >= 8 {
            bits -= 8
            bytes.append(UInt8((accumulator >> bits) & 0xFF))
        }
    }
    return bytes
}

/// `*` any run of bytes, `?` any one byte, anything else itself: a table, no backtracking.
func referenceMatch(_ name: [UInt8], _ pattern: [UInt8]) -> Bool {
    var row = [Bool](repeating: false, count: name.count + 1)  // pattern prefix against name prefixes
    row[0] = true
    for p in pattern {
        var next = [Bool](repeating: false, count: name.count + 1)
        if p == UInt8(ascii: "*") {
            next[0] = row[0]
            for n in 0..<name.count { next[n + 1] = next[n] || row[n + 1] }
        } else {
            for n in 0..<name.count where row[n] && (p == UInt8(ascii: "?") || p == name[n]) { next[n + 1] = true }
        }
        row = next
    }
    return row[name.count]
}

func lowercased(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte + 0x20 : byte }

/// OpenSSH's pattern-list rule: some pattern matches, no `!pattern` does; patterns lowercased.
func referenceListMatch(_ name: [UInt8], _ list: ArraySlice<UInt8>) -> Bool {
    var matched = false
    for pattern in list.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
        let negated = pattern.first == UInt8(ascii: "!")
        let body = (negated ? pattern.dropFirst() : pattern).map(lowercased)
        if referenceMatch(name, body) {
            if negated { return false }
            matched = true
        }
    }
    return matched
}

func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

/// One line's fields as written: marker (or nil), hosts, type, the blob's text.
func fields(_ line: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
    line.split(whereSeparator: isBlank)
}

func combine(_ verdicts: [KnownHosts.Verdict]) -> KnownHosts.Verdict {
    if verdicts.contains(.revoked) { return .revoked }
    if verdicts.contains(.known) { return .known }
    let changes = verdicts.compactMap { verdict -> Bool? in
        if case .changed(let sameType) = verdict { return sameType }
        return nil
    }
    if !changes.isEmpty { return .changed(sameType: changes.contains(true)) }
    return verdicts.contains(.certificateAuthorityOnly) ? .certificateAuthorityOnly : .unknown
}

func fuzzKnownHosts(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 1 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let key = keys[Int(input[0]) % keys.count]
    let port = input[0] & 4 == 0 ? 22 : 2222
    let rest = input.dropFirst()
    let newline = rest.firstIndex(of: 0x0A) ?? rest.endIndex
    // The host: ASCII (passh's host names are), without blanks; the default when empty.
    var hostBytes = rest[..<newline].prefix(200).map { $0 < 0x21 || $0 > 0x7E ? UInt8(ascii: "x") : $0 }
    if hostBytes.isEmpty { hostBytes = Array("web1.example.com".utf8) }
    let host = String(decoding: hostBytes, as: UTF8.self)
    let file = Array(rest[newline...].dropFirst())

    let verdict = KnownHosts.verdict(key: key, host: host, port: port, files: [file])

    // The names the lines are matched against: with the port, and bare (OpenSSH's second look).
    // Given as the host on port 22, a name is matched as it is (the reader lowercases it: it is).
    let name = KnownHosts.name(host: host, port: port)
    let bare = KnownHosts.name(host: host, port: 22)
    func nameVerdict(_ name: String, _ files: [[UInt8]]) -> KnownHosts.Verdict {
        KnownHosts.verdict(key: key, host: name, port: 22, files: files)
    }

    // 1. The file is the sum of its lines.
    let lines = file.split(separator: 0x0A, omittingEmptySubsequences: true)
    let perLine = lines.map { nameVerdict(name, [Array($0)]) }
    let combined = combine(perLine)
    guard nameVerdict(name, [file]) == combined else {
        fatalError("the file says \(nameVerdict(name, [file])) of \(name), its lines one by one \(perLine)")
    }
    var expected = combined
    if port != 22, combined == .unknown || combined == .certificateAuthorityOnly {
        if combine(lines.map { nameVerdict(bare, [Array($0)]) }) == .known { expected = .known }
    }
    guard verdict == expected else {
        fatalError("verdict \(verdict) for \(host):\(port), but its lines give \(expected)")
    }

    // 2. Neither the order of the lines nor their split into files matters.
    let reversed = Array(lines.reversed().joined(separator: [0x0A]))
    guard KnownHosts.verdict(key: key, host: host, port: port, files: [reversed]) == verdict else {
        fatalError("the lines in reverse order give another verdict")
    }
    if lines.count >= 2 {
        let half = lines.count / 2
        let first = Array(lines[..<half].joined(separator: [0x0A]))
        let second = Array(lines[half...].joined(separator: [0x0A]))
        guard KnownHosts.verdict(key: key, host: host, port: port, files: [second, first]) == verdict else {
            fatalError("the file split in two gives another verdict")
        }
    }

    // 3. What a line says, it grants by its own fields.
    let keyType = KnownHosts.blobType(key)
    for (line, lineVerdict) in zip(lines, perLine) where lineVerdict != .unknown {
        var parts = fields(line)
        var marker: String?
        if let first = parts.first, first.first == UInt8(ascii: "@") {
            marker = String(decoding: first, as: UTF8.self)
            parts.removeFirst()
        }
        guard parts.count >= 3 else { fatalError("\(lineVerdict) from a line of \(parts.count) fields") }
        let hosts = parts[0]
        let type = String(decoding: parts[1], as: UTF8.self)
        let blob = decodeBase64(parts[2].filter { !(0x0B...0x0D).contains($0) }[...])
        guard let blob, KnownHosts.keyTypes.contains(type), KnownHosts.blobType(blob) == type else {
            fatalError("\(lineVerdict) from a line whose key cannot be read: \(String(decoding: line, as: UTF8.self))")
        }
        let hashed = hosts.starts(with: Array("|1|".utf8))
        guard hashed || referenceListMatch(Array(name.utf8), hosts) else {
            fatalError("\(lineVerdict) from a line that does not name \(name)")
        }
        switch lineVerdict {
        case .known:
            guard marker == nil, blob == key else { fatalError("known from a line that does not hold the key") }
        case .revoked:
            guard marker == "@revoked", blob == key else { fatalError("revoked from a line that does not revoke it") }
        case .changed(let sameType):
            guard marker == nil, blob != key, sameType == (type == keyType) else {
                fatalError("\(lineVerdict) from a line that is not another key")
            }
        case .certificateAuthorityOnly:
            guard marker == "@cert-authority" else { fatalError("a certificate authority from an unmarked line") }
        case .unknown:
            break
        }
    }

    // 4. The matcher agrees with the table on every pattern of the file, against both names.
    for line in lines {
        var parts = fields(line)
        if parts.first?.first == UInt8(ascii: "@") { parts.removeFirst() }
        guard let hosts = parts.first, hosts.first != UInt8(ascii: "|"), hosts.first != UInt8(ascii: "#") else {
            continue
        }
        for pattern in hosts.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let body = Array(pattern.map(lowercased))
            for candidate in [Array(name.utf8), Array(bare.utf8)] {
                guard KnownHosts.patternMatches(candidate[...], body[...]) == referenceMatch(candidate, body) else {
                    fatalError("pattern \(String(decoding: body, as: UTF8.self)) against \(name): matchers differ")
                }
            }
        }
        guard KnownHosts.patternListMatches(Array(name.utf8), hosts) == referenceListMatch(Array(name.utf8), hosts)
        else { fatalError("pattern list \(String(decoding: hosts, as: UTF8.self)): matchers differ") }
    }
    return 0
}

exit(passh_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzKnownHosts))
