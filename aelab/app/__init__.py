"""The Streamlit app: pages that arrange what the aelab library computes.

This subpackage is the only part of aelab that imports streamlit; the library's other
modules never import it.
"""
