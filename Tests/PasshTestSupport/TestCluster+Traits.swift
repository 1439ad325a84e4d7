public import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Trait where Self == ConditionTrait {
    /// The test (or suite) needs the OpenSSH server of `scripts/testcluster`: without one it is
    /// skipped, with this message, never failed. Every test that reaches a cluster host carries it.
    public static var needsTestCluster: Self {
        .enabled(
            if: TestCluster.isAvailable,
            "no OpenSSH server for scripts/testcluster: install openssh-server (or run the tests as root)")
    }

    /// The test needs the cluster's sudo rules (`scripts/testcluster` sets them up when run as
    /// root): skipped with this message without them.
    public static var needsTestClusterSudo: Self {
        .enabled(
            if: TestCluster.isAvailable && TestCluster.sudoPassword != nil,
            "the test cluster or its sudo rules are missing: install openssh-server and run the tests as root")
    }
}
