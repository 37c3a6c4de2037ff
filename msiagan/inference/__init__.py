"""Running a trained generator: build it and load its weights (generator), run it on images whole or in tiles
(tiling), with the exposure handled on purpose (exposure), the fast CPU path of MSIAGenerator (fast_inference),
side-by-side pictures (visualize), ONNX export (onnx_export) and onnxruntime (onnx_runtime), and Enhancer, which
holds a generator and runs it (enhancer), also on a video's frames with the exposure steady over time (temporal)."""
from .enhancer import Enhancer
from .generator import fit_generator, load_generator, load_network_options, network_options_from
from .tiling import DEFAULT_TILE_PAD, enhance_tensor, tile_context
