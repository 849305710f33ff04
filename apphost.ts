// This repository's application model, the file the AppHost CLI loads (`npm run apphost`, or
// `npx apphost` here): the default export is the AppBuilder, and this directory is the project
// root that the services' directories and .apphost/ are relative to.
import { buildApp } from "./apphost/src/app.js";

export default buildApp;
