"""lucida: semantic search for photo libraries.

The library is the product; the CLI (`lucida.cli`) is a thin shell over it:

    from lucida.catalog import Catalog
    from lucida.indexer import index_paths
    from lucida.search import Searcher
"""

__version__ = "0.1.0"
