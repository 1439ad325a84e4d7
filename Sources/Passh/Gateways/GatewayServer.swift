import Synchronization
public import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The gateway's side of a run through gateways: it reads the root's requests
/// (``GatewayRequest``) and runs each host it is asked to on a transport of its own, writing
/// every host's events as JSON Lines v2 (``JSONLinesSink``) after a hello line.
///
/// An end of file on its input means the root is gone (or has no more hosts): every host still
/// running is stopped — its command asked to end, the grace, then ended — and ``serve(input:writer:)``
/// returns once they all have. So is a request it cannot read.
public struct GatewayServer: Sendable {
    /// Makes the transport the gateway's hosts run on, from the root's setup; its error is the
    /// gateway's one-line answer.
    public typealias TransportMaker = @Sendable (GatewaySetup) throws(PasshError) -> any Transport

    private let makeTransport: TransportMaker
    /// Once triggered, every host is ended at once (a second signal at the gateway).
    public var emergencyStop: EmergencyStop?

    /// A server whose hosts run on the transport `makeTransport` makes.
    public init(makeTransport: @escaping TransportMaker) {
        self.makeTransport = makeTransport
    }

    /// Serves one root, reading `input` (the gateway's stdin) and writing through `writer` (its
    /// stdout; problems go to its stderr). Returns the exit status: 0 once the input ended and
    /// every host is done, 1 when the root's hello, setup or a request could not be read.
    public func serve(input: FileDescriptor, writer: OutputWriter) async -> Int32 {
        await writer.write(GatewayHello.current.eventLine(), to: .stdout)
        let poller = Poller()
        var reader = GatewayInput(fd: input.rawValue, poller: poller)
        defer { poller.forget(input.rawValue) }
        func fail(_ message: String) async -> Int32 {
            await writer.write(Array("passh: gateway: \(message)\n".utf8), to: .stderr)
            await writer.flush()
            return 1
        }
        let transport: any Transport
        do throws(GatewayInput.Stop) {
            let first = try await reader.line(maximum: GatewayProtocol.maximumRequestLine)
            guard case .hello(let hello)? = try? GatewayRequest.parse(first) else {
                return await fail("the first request is not a hello")
            }
            guard hello.matches(.current) else {
                return await fail(
                    "the root runs \(hello.description), this gateway \(GatewayHello.current.description)")
            }
            let second = try await reader.line(maximum: GatewayProtocol.maximumRequestLine)
            guard case .setup(let setup)? = try? GatewayRequest.parse(second) else {
                return await fail("the second request is not the setup")
            }
            do throws(PasshError) {
                transport = try makeTransport(setup)
            } catch {
                return await fail(error.message)
            }
        } catch {
            guard case .broken(let message) = error else { return 0 }
            return await fail(message)
        }
        let files: GatewayFiles
        do throws(PasshError) {
            files = try GatewayFiles()
        } catch {
            return await fail(error.message)
        }
        defer { files.remove() }
        let sink = JSONLinesSink(writer: writer)
        let hosts = GatewayHosts()
        let status = await withTaskGroup(of: Void.self) { group -> Int32 in
            var status: Int32 = 0
            reading: while true {
                let request: GatewayRequest
                do throws(GatewayInput.Stop) {
                    let line = try await reader.line(maximum: GatewayProtocol.maximumRequestLine)
                    do throws(JSONProblem) {
                        request = try GatewayRequest.parse(line)
                    } catch {
                        throw .broken("a request that cannot be read: \(error.text)")
                    }
                    if case .file(let id, let size) = request {
                        let fd: FileDescriptor
                        do throws(PasshError) { fd = try files.create(id) } catch { throw .broken(error.message) }
                        defer { try? fd.close() }
                        try await reader.copy(size, to: fd)
                        continue reading
                    }
                } catch {
                    if case .broken(let message) = error {
                        await writer.write(Array("passh: gateway: \(message)\n".utf8), to: .stderr)
                        status = 1
                    }
                    break reading
                }
                switch request {
                case .run(let job):
                    let run = hosts.start(job.host)
                    var options = SessionOptions()
                    options.stdinFile = job.stdinFile.map { files.path($0) }
                    options.terminationGrace = .milliseconds(job.graceMilliseconds)
                    options.maximumLineLength = job.maximumLineLength
                    options.binaryStdout = job.binaryStdout
                    options.terminal = job.terminal
                    options.stdinPreamble = job.stdinPreamble
                    options.emergencyStop = emergencyStop
                    group.addTask {
                        await Self.run(job, options: options, run: run, hosts: hosts, transport: transport, sink: sink)
                    }
                case .stop(let host):
                    hosts.stop(host)
                case .hello, .setup, .file:
                    break
                }
            }
            // The root is gone, or has no more hosts: stop what still runs.
            group.cancelAll()
            await group.waitForAll()
            return status
        }
        await writer.flush()
        return status
    }

    /// Runs one host: after the previous run of its name, until it ends or is stopped.
    private static func run(
        _ job: GatewayJob, options: SessionOptions, run: GatewayHosts.Run, hosts: GatewayHosts,
        transport: any Transport, sink: JSONLinesSink
    ) async {
        defer { hosts.finished(job.host, run) }
        if let previous = run.previous { _ = await previous.wait() }
        let started = ContinuousClock.now
        let outcome: HostOutcome
        do {
            let host = try Host(job.host)
            await sink.hostStarted(host, transport: transport.transportName(for: host))
            let termination = await withTaskGroup(of: Termination?.self) { group in
                group.addTask {
                    await transport.run(job.command, on: host, options: options) { chunk in
                        // Binary stdout (a gather's archive) goes back in pieces as it is read.
                        if job.binaryStdout && chunk.stream == .stdout {
                            await sink.outputPiece(chunk)
                        } else {
                            await sink.output(chunk)
                        }
                    }
                }
                group.addTask {
                    _ = await run.stop.wait()
                    return nil
                }
                var ended: Termination = .cancelled
                while let next = await group.next() {
                    if let next {
                        ended = next
                        group.cancelAll()
                        break
                    }
                    if run.stop.fired { group.cancelAll() }
                }
                return ended
            }
            switch termination {
            case .exited(let code): outcome = .exited(code)
            case .signaled(let signal): outcome = .signaled(signal)
            case .failed(let failure): outcome = .failed(failure)
            case .cancelled: outcome = .cancelled
            }
            await sink.hostFinished(HostResult(host: host, outcome: outcome, duration: ContinuousClock.now - started))
        } catch {
            // Not a host name: said on the gateway's stderr (a root never sends one).
            return
        }
    }
}

/// The hosts a gateway runs, by name: the stop signal of each run, and the end of the previous
/// run of the same name, which a new run waits for.
final class GatewayHosts: Sendable {
    final class Run: Sendable {
        let stop = StopSignal()
        let done = StopSignal()
        let previous: StopSignal?
        init(previous: StopSignal?) { self.previous = previous }
    }

    private let runs = Mutex<[String: Run]>([:])

    func start(_ host: String) -> Run {
        runs.withLock { runs in
            let run = Run(previous: runs[host]?.done)
            runs[host] = run
            return run
        }
    }

    func stop(_ host: String) {
        runs.withLock { $0[host] }?.stop.fire()
    }

    func finished(_ host: String, _ run: Run) {
        runs.withLock { runs in
            if runs[host] === run { runs[host] = nil }
        }
        run.done.fire()
    }
}
