# -DDA_SANITIZE=address,undefined builds everything under ASan and UBSan;
# any report aborts the test that triggered it.
if(DA_SANITIZE)
  add_compile_options(-fsanitize=${DA_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${DA_SANITIZE} -fno-sanitize-recover=all)
endif()
