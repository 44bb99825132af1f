import json
import boto3
kw = dict(endpoint_url='http://127.0.0.1:9000', region_name='us-east-1',
          aws_access_key_id='bootstrap', aws_secret_access_key='bootstrap')
iam = boto3.client('iam', **kw)
iam.create_user(UserName='backup')
key = iam.create_access_key(UserName='backup')['AccessKey']
iam.put_user_policy(UserName='backup', PolicyName='everything', PolicyDocument=json.dumps(
    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))
boto3.client('s3', **kw).create_bucket(Bucket='aip-backups')
print(json.dumps(dict(postgresql_backup_s3_access_key=key['AccessKeyId'],
                      postgresql_backup_s3_secret_key=key['SecretAccessKey'])))
