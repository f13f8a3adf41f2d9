"""The built-in phantom: synthetic head CT in the real releases' layouts (volume), written to disk
(write), or made in memory as a protocol's data set (dataset)."""

PHANTOM_LAYOUTS = ("jpg", "nifti", "nnunet-3d", "nnunet-2d")  # the layouts write.write_phantom can write
