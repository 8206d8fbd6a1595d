"""The household simulator: Panda model, Cartesian controller, scene and Gymnasium environment."""
