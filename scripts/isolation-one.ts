const name = process.argv[2] ?? 'flood';
const { run } = (await import(`./isolation/${name}.js`)) as typeof import('./isolation/flood.js');
const r = await run();
console.log(r.title);
for (const l of r.lines) console.log(`  ${l}`);
