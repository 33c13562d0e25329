# SPDX-License-Identifier: Apache-2.0
# Image: decoding (JPEG/PNG/BMP), preprocessing, malformed input, and
# bit-exactness against the reference tensors.
foreach(t image_reference image_decode image_malformed image_preprocess)
  ims_add_test(NAME ${t} SOURCES ${t}.c LIBS ims_core ims_image)
endforeach()
