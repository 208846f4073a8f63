# Every compiler warning we hold the code to, in one place (curl's PickyWarnings).
set(DA_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes
    -Wmissing-prototypes -Wold-style-definition -Wswitch-enum -Wno-switch-default
    -Wcast-qual -Wpointer-arith -Wvla -Wundef
    # Not -Wnull-dereference: at -O2 gcc 12 reports paths that inlining
    # invents (a lookup that returns NULL, checked by every caller).
    # libgit2's GIT_*_OPTIONS_INIT macros leave fields implicit.
    -Wno-missing-field-initializers)
add_compile_options(${DA_WARNINGS})
if(DA_WERROR)
  add_compile_options(-Werror)
endif()
