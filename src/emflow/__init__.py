"""emflow: electron-tomography processing pipeline.

The package holds all logic; the CLI (`emflow <step>`), the `bin/` commands that
Nextflow tasks call and the local runner are thin shells over it.
"""

__version__ = "0.1.0"
