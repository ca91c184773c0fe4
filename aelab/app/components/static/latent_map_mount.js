// aelab latent map, the map element's own module: it mounts the map with the code that its data
// element's module (latent_map_data.js) carries, once that module has run. Kept this small
// because it travels with every run of the page; the map's code travels once.

export default function (component) {
  let cleanup = null;
  let cancelled = false;
  const start = () => { if (!cancelled) cleanup = window.__aelabLatentMap.mount(component); };
  if (window.__aelabLatentMap) start();
  else window.addEventListener("aelab-latent-map-ready", start, { once: true });
  return () => {
    cancelled = true;
    window.removeEventListener("aelab-latent-map-ready", start);
    if (cleanup) cleanup();
  };
}
