import Passh
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `passh HOSTS` with no command: a shell, as `clush -w NODES` opens one. Each line runs on every
/// host over connections kept open between lines (a ``Fleet``), in the output mode of the flags,
/// then a one-line summary on stderr.
///
/// On a terminal (stdin), a prompt with the host count on stderr, lines edited with libedit
/// (``LineEditor``: ↑ recalls earlier lines, those of the history file too), and each line kept in
/// the history file. ^C stops the running command on every host (the remote commands too) and
/// gives the prompt back; a second ^C while it stops kills it at once; ^C at the prompt drops the
/// line typed so far. ^D or `quit` leaves. SIGTERM or SIGHUP stop the running command, close every
/// connection and end passh by that signal. Without a terminal, stdin is a script, one command a
/// line; the exit status is the last command's (as a run's: 2 when a host failed).
struct Shell {
    let fleet: Fleet
    var outputFlags: OutputFlags
    let groups: HostGroups
    let writer: OutputWriter
    /// The control of the whole shell: SIGTERM and SIGHUP end it.
    let control: RunControl
    let interactive: Bool
    var openSSH: Bool
    /// Whether a host is reached with a plain OpenSSH `ssh`.
    var overPlainOpenSSH: @Sendable (Host) -> Bool

    /// The running command's control, for the signals.
    private final class Running: Sendable {
        let current = Mutex<RunControl?>(nil)
        let prompt = Mutex<String>("")
        /// The line editor while it is open (^C at the prompt interrupts it).
        let editor = Mutex<LineEditor?>(nil)
    }

    func run() async -> Int32 {
        let running = Running()
        let interactive = self.interactive
        var history: ShellHistory?
        var historyProblem: String?
        if interactive {
            (history, historyProblem) = ShellHistory.open()
            if let editor = LineEditor(history: history?.recent(1000) ?? []) {
                running.editor.withLock { $0 = editor }
            }
        }
        defer {
            // Taken out under the lock: a ^C from now on cannot reach a closed editor.
            running.editor.withLock { editor in
                editor?.close()
                editor = nil
            }
            history?.close()
        }
        control.intercept { signal, second in
            if signal == SIGINT {
                if let command = running.current.withLock({ $0 }) {
                    command.signalled(SIGINT)
                } else if running.editor.withLock({ editor in editor?.interrupt() }) != nil {
                    // The editor drops the line and shows a new prompt.
                } else if interactive {
                    let text = Array(("\n" + running.prompt.withLock { $0 }).utf8)
                    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
                }
                return true
            }
            // A second SIGTERM or SIGHUP kills the running command at once.
            if second, let command = running.current.withLock({ $0 }) {
                command.signalled(signal)
                command.signalled(signal)
                return true
            }
            return false
        }
        if interactive {
            if let historyProblem { await say("passh: " + historyProblem) }
            await say("passh: Enter 'quit' or ^D to leave, ':help' for the shell's commands")
            await say("passh: Working with hosts: " + HostFolding.fold(fleet.hosts.map(\.name)))
        }
        let input = ShellInput()
        var shell = self
        var status: Int32 = 0
        var last: (command: String, failed: [Host])?
        while !Task.isCancelled {
            let prompt = "passh[\(fleet.hosts.count)]> "
            let line: String?
            if let editor = running.editor.withLock({ $0 }) {
                await writer.flush()
                switch await editor.read(prompt: prompt) {
                case .line(let text): line = text
                case .interrupted:
                    await say("^C")
                    continue
                case .end: line = nil
                }
            } else {
                if interactive {
                    running.prompt.withLock { $0 = prompt }
                    await writer.write(Array(prompt.utf8), to: .stderr)
                    await writer.flush()
                }
                line = await input.next()
            }
            guard let line else {
                if interactive && !Task.isCancelled { await say("") }
                break
            }
            if interactive, !line.isEmpty {
                history?.append(line)
                running.editor.withLock { $0 }?.remember(line)
            }
            switch ShellLine(line) {
            case .empty:
                continue
            case .quit:
                await fleet.close()
                return interactive ? 0 : status
            case .help:
                await say(ShellLine.helpText)
            case .unknown(let text):
                await say("passh: unknown shell command \(text) (:help lists them)")
            case .hosts:
                await say(
                    fleet.hosts.map { host in "\(host.name): \(describe(fleet.state(of: host)))" }.joined(
                        separator: "\n"))
            case .down:
                let down = fleet.hosts.filter {
                    if case .disconnected = fleet.state(of: $0) { true } else { false }
                }
                await say(
                    down.isEmpty
                        ? "passh: no host is disconnected"
                        : down.map { "\($0.name): \(describe(fleet.state(of: $0)))" }.joined(separator: "\n"))
            case .toggleGather:
                shell.outputFlags.gather.toggle()
                if !shell.outputFlags.gather { shell.outputFlags.regroup = false }
                await say(
                    shell.outputFlags.gather
                        ? "passh: Switching to gathered output format" : "passh: Switching to standard output format")
            case .add(let patterns), .remove(let patterns):
                var list = HostList(groups: groups)
                do throws(PasshError) {
                    try await list.add(patterns)
                } catch {
                    await say("passh: \(error.message) (ignored)")
                    continue
                }
                if case .add = ShellLine(line) {
                    fleet.add(list.hosts)
                } else {
                    await fleet.remove(list.hosts)
                }
                await say("passh: Working with hosts: " + HostFolding.fold(fleet.hosts.map(\.name)))
            case .retry:
                guard let last, !last.failed.isEmpty else {
                    await say("passh: no host failed last time")
                    continue
                }
                let hosts = fleet.hosts.filter(last.failed.contains)
                status = await shell.execute(last.command, on: hosts, passh: fleet.passh, running: running) { _ in }
            case .local(nil):
                await say("passh: ! needs a command to run on this machine (!COMMAND)")
            case .local(let command?):
                status = await shell.execute(
                    command, on: [Self.localHost],
                    passh: ParallelSSH(options: fleet.options, transport: LocalTransport()),
                    running: running, overSSH: false
                ) { _ in }
            case .run(let command):
                let failed = Mutex<[Host]>([])
                status = await shell.execute(command, on: fleet.hosts, passh: fleet.passh, running: running) {
                    results in
                    failed.withLock { $0 = results.filter { !$0.isSuccess }.map(\.host) }
                }
                last = (command, failed.withLock { $0 })
            }
        }
        await fleet.close()
        return interactive ? 0 : status
    }

    /// The host whose output `!CMD` labels, as clush labels it.
    private static let localHost = try! Host("LOCAL")

    /// Runs one line on `hosts` with `passh`, stopped by its own control (^C), and gives its exit
    /// status. `overSSH` false: a local command (explained as `--local` explains its hosts).
    private func execute(
        _ command: String, on hosts: [Host], passh: ParallelSSH, running: Running, overSSH: Bool = true,
        finished: @escaping @Sendable ([HostResult]) -> Void
    ) async -> Int32 {
        guard !hosts.isEmpty else {
            await say("passh: no hosts (add some with +HOSTS)")
            return 64
        }
        let sink: any OutputSink
        do throws(PasshError) {
            sink = try outputFlags.sink(writer: writer, groups: groups)
        } catch {
            return report(error)
        }
        let commandControl = RunControl()
        var invocation = Invocation(passh: passh, hosts: hosts, work: .command([command]), sink: sink, writer: writer)
        invocation.explainHosts = !outputFlags.json
        invocation.openSSH = openSSH && overSSH
        if overSSH {
            invocation.overPlainOpenSSH = overPlainOpenSSH
        } else {
            invocation.overPlainOpenSSH = { _ in false }
        }
        invocation.alwaysSummarize = true
        invocation.finished = finished
        running.current.withLock { $0 = commandControl }
        defer { running.current.withLock { $0 = nil } }
        let frozen = invocation
        return await commandControl.stoppable { await frozen.run(control: commandControl) }
    }

    private func describe(_ state: Fleet.ConnectionState) -> String {
        switch state {
        case .connected: "connected"
        case .notConnected: "not connected"
        case .disconnected(let reason?): "disconnected: \(reason)"
        case .disconnected(nil): "disconnected"
        }
    }

    private func say(_ text: String) async {
        await writer.write(Array((text + "\n").utf8), to: .stderr)
        await writer.flush()
    }
}
