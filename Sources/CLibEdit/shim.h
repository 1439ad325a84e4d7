// libedit's editline and history API (histedit.h), for the shell's line editor
// (Sources/CPasshLineEditor); Debian/Ubuntu: libedit-dev.
#include <histedit.h>
