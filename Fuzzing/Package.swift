// swift-tools-version: 6.2
import PackageDescription

// The libFuzzer targets (scripts/fuzz builds and runs them). A package of its own, so that the
// project's `swift build` and `swift test` never see libFuzzer: scripts/fuzz builds this one with
// `-sanitize=fuzzer,address` in its own scratch path.
//
// A target is one file, Sources/<Name>/main.swift (a test function taking the input's bytes, and
// `exit(passh_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, test))`), and one line below; its
// seed corpus is Corpus/<Name>/.
let fuzzTargets = [
    "FuzzHostPattern",
    "FuzzJSONLines",
    "FuzzKnownHosts",
    "FuzzSSHConfig",
    "FuzzTarExtractor",
]

let package = Package(
    name: "passh-fuzz",
    dependencies: [
        // The library alone: not the CLI trait (the tool's dependencies are never resolved here).
        .package(name: "passh", path: "..", traits: ["LibSSH"]),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    ],
    targets: [
        // libFuzzer's driver, called from each target's main.
        .target(name: "CLibFuzzer")
    ]
        + fuzzTargets.map { name in
            .executableTarget(
                name: name,
                dependencies: [
                    "CLibFuzzer",
                    .product(name: "Passh", package: "passh"),
                    .product(name: "SystemPackage", package: "swift-system"),
                ],
                swiftSettings: [.swiftLanguageMode(.v6)]
            )
        }
)
