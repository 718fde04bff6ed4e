/** esbuild bundles the style sheet imported by main.tsx into console.css. */
declare module '*.css';
