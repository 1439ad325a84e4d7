// swift-system's types are part of Passh's API — `FilePath` (stdin files, directories, config
// files), `FileDescriptor` (output writers), `Errno` (write errors) — so Passh re-exports the
// module: `import Passh` alone is enough to use them, their members included (also under the
// `MemberImportVisibility` upcoming feature). See docs/decisions.md.
@_exported public import SystemPackage
