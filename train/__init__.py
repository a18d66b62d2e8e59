"""Training the AnimeGANv2 recipe in-repo: data and AnimeGAN preprocessing, VGG19 content features,
PatchGAN discriminator, losses, and the resumable (optionally distributed) training loop."""
