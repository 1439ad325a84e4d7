import ArgumentParser
import Passh
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// `--sudo`: run as root on every host, with sudo's password asked once or read from a file.
struct SudoFlags: ParsableArguments {
    @Flag(
        name: .customLong("sudo"),
        help:
            "Run the command (or the copy) as root through sudo on every host. The password is asked once, on the terminal, if the first host's sudo wants one; it reaches each host on its stdin, ahead of any -i/-I data."
    )
    var sudo = false

    @Option(
        name: .customLong("sudo-password-file"),
        help: ArgumentHelp(
            "Read sudo's password from the first line of FILE, which only you may read or write (mode 0600 or 0400), instead of asking.",
            valueName: "FILE"))
    var passwordFile: String?

    /// The longest password taken.
    static let maximumLength = 4096

    func validate() throws {
        if passwordFile != nil && !sudo { throw ValidationError("--sudo-password-file needs --sudo.") }
    }

    /// A refusal to start: a one-line message (with `passh: ` in front), exit status 1.
    struct Refusal: Error {
        let message: String
    }

    /// The run's sudo, `nil` without `--sudo`. Without a password file, `probe` (what the first
    /// host that answers says of sudo, ``SudoProbe``) decides whether the password is asked for:
    /// it is when that host's sudo wants one, and when no host answered and there is a terminal to
    /// ask on (a password given to a host that needs none is skipped there).
    func makeSudo(probe: () async -> SudoProbe.Answer) async throws(Refusal) -> Sudo? {
        guard sudo else { return nil }
        if let passwordFile { return Self.holding(Sudo(password: try Self.password(from: passwordFile))) }
        let answer = await probe()
        if answer == .noPassword { return Sudo() }
        if Task.isCancelled { throw Refusal(message: "stopped") }
        guard let typed = await PasswordPrompt.read(prompt: "[passh] sudo password: ") else {
            guard case .needsPassword(let host) = answer else { return Sudo() }
            throw Refusal(
                message:
                    "sudo on \(host.name) asks for a password, and there is no terminal to ask it on: give it with --sudo-password-file"
            )
        }
        do {
            return Self.holding(Sudo(password: try SudoPassword(typed)))
        } catch {
            throw Refusal(message: error.message)
        }
    }

    /// `sudo`, once passh holds its password: from then on passh leaves no core dump (`RLIMIT_CORE`
    /// 0, soft and hard), which would hold the password. The process stays dumpable otherwise: each
    /// `ssh` opens its log through `/proc/PID/fd`, which `PR_SET_DUMPABLE` 0 would close to it.
    private static func holding(_ sudo: Sudo) -> Sudo {
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none)
        return sudo
    }

    /// The first line of `path`, a regular file of ours that no one else may read or write.
    static func password(from path: String) throws(Refusal) -> SudoPassword {
        let named = "--sudo-password-file \(path)"
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec, .nonBlocking])
        } catch {
            throw Refusal(
                message: (error as? Errno) == .noSuchFileOrDirectory ? "\(named): no such file" : "\(named): \(error)")
        }
        defer { try? file.close() }
        var info = stat()
        guard fstat(file.rawValue, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw Refusal(message: "\(named): not a regular file")
        }
        guard info.st_uid == geteuid() else {
            throw Refusal(
                message:
                    "\(named): the file is not yours: it must belong to you and be readable by you alone (mode 0600)")
        }
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o7777, radix: 8)
            throw Refusal(
                message:
                    "\(named): mode 0\(mode) lets others at it: it must be readable by you alone (chmod 600 \(path))")
        }
        var bytes = [UInt8](repeating: 0, count: maximumLength + 2)
        var count = 0
        do {
            while count < bytes.count {
                let read = try bytes[count...].withUnsafeMutableBytes {
                    try file.read(into: $0, retryOnInterrupt: true)
                }
                if read == 0 { break }
                count += read
            }
        } catch {
            throw Refusal(message: "\(named): \(error)")
        }
        var line = bytes[..<count].prefix(while: { $0 != 0x0A })
        if line.last == 0x0D { line.removeLast() }
        guard line.count <= maximumLength else {
            throw Refusal(message: "\(named): the first line is longer than \(maximumLength) bytes")
        }
        do {
            return try SudoPassword(line)
        } catch {
            throw Refusal(message: "\(named): \(error.message)")
        }
    }
}
