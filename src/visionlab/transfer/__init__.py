"""Transfer learning: frozen CNN features + linear SVM, cut-point and C sweeps, fine-tuning, comparisons."""
