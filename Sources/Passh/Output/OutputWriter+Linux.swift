import Glibc
import SystemPackage

/// Blocks the writer thread until `fd` (a non-blocking stdout, say) can take more.
func waitUntilWritable(_ fd: FileDescriptor) {
    var waiting = pollfd(fd: fd.rawValue, events: Int16(POLLOUT), revents: 0)
    _ = poll(&waiting, 1, -1)
}
