import CLibFuzzer
import Passh

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The JSON Lines decoder: any bytes either decode or are refused with one line naming the line
// ("JSON Lines line N: …"); a whole stream decodes exactly as its lines fed one by one, with and
// without collecting the output; and a decoder keeps going after a refused line.

func fuzzJSONLines(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let whole = Result { () throws(PasshError) in try JSONLinesDecoder.decode(bytes) }
    let collected = Result { () throws(PasshError) in try JSONLinesDecoder.decode(bytes, collectOutput: true) }

    // The same lines, one by one, up to the first refused one.
    var decoder = JSONLinesDecoder()
    var events: [RunEvent] = []
    var firstError: PasshError?
    for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
        do {
            if let event = try decoder.decode(line: line), firstError == nil { events.append(event) }
        } catch {
            guard error.code == .invalidInput, error.message.hasPrefix("JSON Lines line \(decoder.lineNumber): "),
                !error.message.contains("\n")
            else {
                fatalError("unexpected error for line \(decoder.lineNumber): \(error)")
            }
            if firstError == nil { firstError = error }
        }
    }
    // (After a final newline, the empty last "line" is blank: no event, no error, as in a whole stream.)
    switch whole {
    case .success(let decoded):
        if let firstError { fatalError("the stream decodes whole, but line by line: \(firstError)") }
        guard decoded.events == events else { fatalError("whole stream: \(decoded.events); line by line: \(events)") }
        guard decoded.results == decoded.events.compactMap(finishedResult) else {
            fatalError("the results are not those of the finished events")
        }
        guard decoded.summary == decoder.summary, decoded.tool == decoder.tool else {
            fatalError("whole stream and line by line differ in summary or tool")
        }
        guard case .success(let withOutput) = collected, withOutput.events.count == decoded.events.count else {
            fatalError("collecting the output changed the outcome: \(collected)")
        }
    case .failure(let error):
        guard error == firstError else {
            fatalError("whole stream: \(error); line by line: \(String(describing: firstError))")
        }
        guard case .failure(let again) = collected, again == error else {
            fatalError("collecting the output changed the outcome: \(collected)")
        }
    }
    return 0
}

private func finishedResult(_ event: RunEvent) -> HostResult? {
    if case .finished(let result) = event { return result }
    return nil
}

exit(passh_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzJSONLines))
