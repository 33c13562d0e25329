# Image: decoding (JPEG/PNG/BMP), preprocessing, malformed input, and
# bit-exactness against the reference tensors.
ims_add_test(NAME image_reference SOURCES image_reference.c
             LIBS ims_core ims_image)
ims_add_test(NAME image_decode SOURCES image_decode.c
             LIBS ims_core ims_image)
ims_add_test(NAME image_malformed SOURCES image_malformed.c
             LIBS ims_core ims_image)
ims_add_test(NAME image_preprocess SOURCES image_preprocess.c
             LIBS ims_core ims_image)
