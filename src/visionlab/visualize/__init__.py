"""Network visualization: saliency maps, adversarial examples, class-model visualization, sanity checks."""
