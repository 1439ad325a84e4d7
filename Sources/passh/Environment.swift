import Passh

#if canImport(Glibc)
import Glibc
#endif

/// The value of an environment variable, if it is set.
func environment(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}

/// Writes a line to stderr right away (for messages before or after the run's output).
func printError(_ message: String) {
    var line = Array(message.utf8)
    line.append(0x0A)
    line.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(2, raw.baseAddress! + offset, raw.count - offset)
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            offset += n
        }
    }
}

/// Reports misuse found before the run: a file that cannot be read keeps the original passh's
/// wording and status (`No such file: F`, exit 1); anything else is `passh: …`, exit 64.
func report(_ error: PasshError) -> Int32 {
    if error.code == .unreadableFile {
        printError(error.cliMessage)
        return 1
    }
    printError("passh: \(error.cliMessage)")
    return 64
}

extension PasshError {
    /// The message with its remedy in the tool's flags (the library names its own options).
    var cliMessage: String {
        switch remedy {
        case nil: message
        case .openSSHTransport: problem + " (use --transport openssh)"
        case .skipHostKeyChecking: problem + ": use --insecure to skip checking"
        }
    }
}
