// swift-tools-version: 6.2
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // `#if LIBSSH`: code for the libssh transport, in builds with the LibSSH trait.
    .define("LIBSSH", .when(traits: ["LibSSH"])),
]

let package = Package(
    name: "passh",
    products: [
        .library(name: "Passh", targets: ["Passh"]),
        .executable(name: "passh", targets: ["passh"]),
    ],
    traits: [
        // The native SSH transport on libssh (needs libssh-dev to build, libssh-4 to run). On by
        // default; `swift build --disable-default-traits --traits CLI` builds passh on OpenSSH alone,
        // with nothing beyond the Swift toolchain.
        .trait(name: "LibSSH", description: "The libssh transport (--transport libssh, auto); needs libssh-dev."),
        // The passh tool's own dependencies (swift-argument-parser, swift-service-lifecycle and its
        // swift-log). On by default; a package that depends on the library alone leaves it out
        // (`traits: ["LibSSH"]`, or `traits: []` for OpenSSH alone) and resolves none of them.
        // Whoever disables the default traits names it to build the tool (and the tests).
        .trait(name: "CLI", description: "The passh command-line tool's dependencies."),
        .default(enabledTraits: ["LibSSH", "CLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", .upToNextMinor(from: "1.0.2"), traits: []),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-extras/swift-extras-base64.git", from: "1.2.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
    ],
    targets: [
        // System interfaces the Glibc module lacks (epoll).
        .target(name: "CPasshShims"),
        // libssh's C API, for the libssh transport (only with the LibSSH trait).
        .systemLibrary(name: "CLibSSH", pkgConfig: "libssh", providers: [.apt(["libssh-dev"])]),
        // libedit (BSD editline, BSD-3-Clause), the shell's line editing: the passh tool only (CLI
        // trait), never the library.
        .systemLibrary(name: "CLibEdit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        // The shell's line editor over libedit, in C: libedit's calls are variadic, which Swift
        // cannot make.
        .target(name: "CPasshLineEditor", dependencies: ["CLibEdit"]),
        // The library: hosts, runner, transports, output sinks. Never imports ArgumentParser.
        .target(
            name: "Passh",
            dependencies: [
                "CPasshShims",
                .target(name: "CLibSSH", condition: .when(traits: ["LibSSH"])),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "ExtrasBase64", package: "swift-extras-base64"),
            ],
            swiftSettings: strictSettings
        ),
        // The command-line tool: flags, one sink, exit status. Its own dependencies come with the CLI
        // trait (without it, the target stops at an #error saying so).
        .executableTarget(
            name: "passh",
            dependencies: [
                "Passh",
                "CPasshShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser", condition: .when(traits: ["CLI"])),
                .product(name: "UnixSignals", package: "swift-service-lifecycle", condition: .when(traits: ["CLI"])),
                .target(name: "CPasshLineEditor", condition: .when(traits: ["CLI"])),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        // A plain (non-async) program that uses the blocking entry point; run by the tests.
        .executableTarget(
            name: "passh-blocking-example",
            dependencies: ["Passh"],
            path: "Examples/blocking",
            swiftSettings: strictSettings
        ),
        // Top-level code reading a run's events with `withEvents`; run by the tests.
        .executableTarget(
            name: "passh-events-example",
            dependencies: ["Passh"],
            path: "Examples/events",
            swiftSettings: strictSettings
        ),
        // bench/events: the events API against a sink (lines per second), release build.
        .executableTarget(
            name: "passh-events-bench",
            dependencies: ["Passh"],
            path: "bench/events-bench",
            swiftSettings: strictSettings
        ),
        // Helpers shared by the test targets: the test cluster, running the built binary.
        .target(
            name: "PasshTestSupport",
            dependencies: [
                "Passh",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/PasshTestSupport",
            swiftSettings: strictSettings
        ),
        // The library without ssh: parsers, argv builder, output routines, the runner over LocalTransport.
        .testTarget(
            name: "PasshTests",
            dependencies: [
                "Passh", "PasshTestSupport", .product(name: "ExtrasBase64", package: "swift-extras-base64"),
            ],
            swiftSettings: strictSettings
        ),
        // The public API as an embedder sees it: `import Passh` alone, under MemberImportVisibility;
        // the DocC articles' snippets.
        .testTarget(
            name: "PasshAPITests",
            dependencies: ["Passh"],
            swiftSettings: strictSettings + [.enableUpcomingFeature("MemberImportVisibility")]
        ),
        // The library against a real OpenSSH sshd (scripts/testcluster).
        .testTarget(
            name: "PasshSSHTests",
            dependencies: ["Passh", "PasshTestSupport"],
            swiftSettings: strictSettings
        ),
        // The built `passh` binary: exact output and exit status.
        .testTarget(
            name: "passhCLITests",
            dependencies: ["PasshTestSupport", "passh", "passh-blocking-example", "passh-events-example"],
            swiftSettings: strictSettings
        ),
    ]
)
