import Passh
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// How far a run got, for the progress line on a terminal: hosts started, finished and failed.
final class Progress: Sendable {
    private struct Counts {
        var started = 0
        var done = 0
        var failed = 0
        var wave: (number: Int, total: Int)?
        var bytes: Int64 = 0
    }

    let total: Int
    /// Whether the run copies files: the line then shows the bytes moved.
    let copies: Bool
    private let start = ContinuousClock.now
    private let counts = Mutex(Counts())

    init(total: Int, copies: Bool = false) {
        self.total = total
        self.copies = copies
    }

    var elapsed: Duration { ContinuousClock.now - start }

    func started() { counts.withLock { $0.started += 1 } }

    func wave(_ number: Int, of total: Int) { counts.withLock { $0.wave = (number, total) } }

    func finished(_ result: HostResult) {
        counts.withLock {
            $0.done += 1
            if !result.isSuccess { $0.failed += 1 }
            $0.bytes += result.transfer?.bytes ?? 0
        }
    }

    /// `passh: 37/100 done, 2 failed, 50 running, 3.2 s`; in a rollout, `passh: wave 3/10, 37/100…`;
    /// a copy adds the bytes the finished hosts moved: `…, 50 running, 3.7 GB, 3.2 s`.
    var line: String {
        let counts = self.counts.withLock { $0 }
        let wave = counts.wave.map { "wave \($0.number)/\($0.total), " } ?? ""
        return
            "passh: \(wave)\(counts.done)/\(total) done, \(counts.failed) failed, \(counts.started - counts.done) running, "
            + (copies ? String(bytes: counts.bytes) + ", " : "") + String(seconds: elapsed)
    }
}

/// The progress line at the bottom of a terminal, cut to the terminal's width so that it never
/// wraps (a wrapped line cannot be erased, and leaves stale rows behind).
struct ProgressOverlay: OutputOverlay {
    let progress: Progress
    /// The terminal the line is drawn on (stderr).
    var terminal: Int32 = 2

    func draw() -> [UInt8]? {
        var line = Array(progress.line.utf8)  // ASCII: one byte per column
        let columns = Self.columns(of: terminal)
        if line.count > columns - 1 { line.removeLast(line.count - Swift.max(0, columns - 1)) }
        return line.isEmpty ? nil : line
    }

    func erase() -> [UInt8] { Array("\r\u{1B}[K".utf8) }

    /// The terminal's width, 80 when it cannot be told.
    static func columns(of fd: Int32) -> Int {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}

/// Shows the progress line from the first second of a run on, redrawn four times a second and
/// whenever the terminal's size changes, until cancelled.
func showProgress(_ progress: Progress, on writer: OutputWriter, resized: UnixSignalsSequence?) async {
    do {
        try await Task.sleep(for: .seconds(1))
    } catch {
        return
    }
    writer.setOverlay(ProgressOverlay(progress: progress))
    defer { writer.setOverlay(nil) }
    await withTaskGroup(of: Void.self) { group in
        if let resized {
            group.addTask {
                for await _ in resized { writer.refreshOverlay() }
            }
        }
        group.addTask {
            while (try? await Task.sleep(for: .milliseconds(250))) != nil {
                writer.refreshOverlay()
            }
        }
        await group.next()
        group.cancelAll()
    }
}

/// `98 ok, 2 failed (h0031 h0077), 3.2 s`: the last line of a run on a terminal; a copy adds the
/// bytes moved and the rate: `3 ok, 6.3 MB copied, 0.4 s, 15.7 MB/s`.
func terminalSummary(_ results: [HostResult], elapsed: Duration, copies: Bool = false) -> String {
    var parts = ["\(results.filter(\.isSuccess).count) ok"]
    for status in [HostStatus.failed, .timeout, .cancelled, .notStarted] {
        let names = results.filter { $0.outcome.status == status }.map(\.host.name)
        guard !names.isEmpty else { continue }
        let word = status == .timeout ? "timed out" : status == .notStarted ? "not started" : status.rawValue
        let shown = names.count > 10 ? names.prefix(10).joined(separator: " ") + " …" : names.joined(separator: " ")
        parts.append("\(names.count) \(word) (\(shown))")
    }
    if copies {
        let bytes = results.reduce(Int64(0)) { $0 + ($1.transfer?.bytes ?? 0) }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Int64((Double(bytes) / seconds).rounded()) : bytes
        return (parts + ["\(String(bytes: bytes)) copied", String(seconds: elapsed), String(bytes: rate) + "/s"])
            .joined(separator: ", ")
    }
    return parts.joined(separator: ", ") + ", " + String(seconds: elapsed)
}

extension String {
    /// A byte count in decimal units with one decimal: `512 B`, `2.1 MB`, `3.7 GB`.
    init(bytes: Int64) {
        if bytes < 1000 {
            self = "\(bytes) B"
            return
        }
        var value = Double(bytes)
        var unit = 0
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        while value >= 999.95 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    /// A duration with one decimal: `3.2 s`.
    init(seconds duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let tenths = Int((seconds * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10) s"
    }
}
