var request = require('request');
var options = {
  'method': 'POST',
  'url': 'https://<domain>/<api prefix>/<version>/user/profile/profile-image/',
  'headers': {
    'apikey': '<apikey>',
    'Authorization': 'Bearer <access-token>',
  },
  formData: {
    'image': {
      'value': <image uri>,
      'options': {
        'filename': '<image name>',
        'contentType': null
      }
    },
    'cropped_image': {
      'value': <cropped_image uri>,
      'options': {
        'filename': '<cropped_image name>',
        'contentType': null
      }
    }
  }
};
request(options, function (error, response) {
  if (error) throw new Error(error);
  console.log(response.body);
});
