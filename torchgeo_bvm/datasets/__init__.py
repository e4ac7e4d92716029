"""TorchGeo datasets for the Biological Valuation Map and Sentinel-2 TOC imagery."""
