# Turn a file into a C byte array, for files compiled into the binary.
#   cmake -DIN=jobs/catalog.xsd -DOUT=catalog_xsd.c -DNAME=catalog__xsd -P cmake/EmbedFile.cmake
# defines: const unsigned char NAME[] (NUL-terminated) and const size_t NAME_len.
file(READ "${IN}" hex HEX)
get_filename_component(in_name "${IN}" NAME)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes a line (CMake regexes have no {n} repeat)
string(REPEAT "0x..," 16 line)
string(REGEX REPLACE "(${line})" "\\1\n\t" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* Generated from ${in_name} by cmake/EmbedFile.cmake; do not edit. */\n"
  "#include <stddef.h>\n"
  "extern const unsigned char ${NAME}[];\n"
  "extern const size_t ${NAME}_len;\n"
  "const unsigned char ${NAME}[] = {\n\t${bytes}0x00\n};\n"
  "const size_t ${NAME}_len = ${len};\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
