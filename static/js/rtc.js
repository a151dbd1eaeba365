// The camera code lives in camera.js; this name is kept for the pages that import it.
export { CameraLink, cameraErrorMessage, openCamera, sendCamera, showPreview } from './camera.js';
