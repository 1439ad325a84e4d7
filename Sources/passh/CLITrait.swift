// The tool's own dependencies (swift-argument-parser, swift-service-lifecycle) come with the CLI
// trait, a default one: a build that disables the default traits names it to build the tool.
#if !CLI
#error("the passh tool needs the CLI trait: swift build --disable-default-traits --traits CLI (OpenSSH alone)")
#endif
